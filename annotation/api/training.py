"""REST API for step 7: training items and the pass rule (managers write), and annotators'
training attempts: start, current, answer → feedback. Same services, same rules as the pages.

Gold answers are read only by managers and reviewers; an annotator sees one only in the
feedback on their own answer to that item.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.selectors import training as selectors
from annotation.services import training as services
from dmops.api import IsProjectManagerOrReadOnly, IsProjectMember
from dmops.models import Membership

ANSWER_HELP = 'yes/no items: "yes" | "no" | "unsure"; single: a label key; multi: a list of keys'


class CanReadGold(permissions.BasePermission):
    """After IsProjectMember: managers read and write, reviewers read, annotators neither,
    so nobody reads the answers before answering."""

    message = "Gold answers are shown to managers and reviewers only."

    def has_permission(self, request, view) -> bool:
        if view.role == Membership.Role.MANAGER:
            return True
        if view.role == Membership.Role.REVIEWER and request.method in permissions.SAFE_METHODS:
            self.message = "Only a project manager can change training items."
            return True
        return False


class IsProjectAnnotator(permissions.BasePermission):
    message = "Training is taken by the project's annotators."

    def has_permission(self, request, view) -> bool:
        return view.role == Membership.Role.ANNOTATOR


class TrainingItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    item_id = serializers.IntegerField()
    text = serializers.CharField(source="item.text", read_only=True)
    position = serializers.IntegerField(read_only=True)
    proposed_label = serializers.CharField(required=False, allow_blank=True, default="")
    answer = serializers.JSONField(help_text="The gold answer. " + ANSWER_HELP)
    explanation = serializers.CharField(required=False, allow_blank=True, default="")
    guideline_section = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="A heading of the current guideline.",
    )


class TrainingRuleSerializer(serializers.Serializer):
    min_correct = serializers.IntegerField(
        min_value=1, help_text="Correct answers needed to qualify."
    )
    max_attempts = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None, help_text="null: unlimited."
    )
    training_items = serializers.IntegerField(read_only=True)


class TrainingChoiceSerializer(serializers.Serializer):
    value = serializers.CharField()
    name = serializers.CharField()
    hotkey = serializers.CharField()


class TrainingQuestionSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="binary | single | multi | pairwise")
    prompt = serializers.CharField()
    proposed_label = serializers.CharField()
    choices = TrainingChoiceSerializer(many=True)


class TrainingNextItemSerializer(serializers.Serializer):
    """A training item as asked: never its gold answer."""

    training_item = serializers.IntegerField(source="pk")
    item_id = serializers.IntegerField()
    text = serializers.CharField(source="item.text")
    metadata = serializers.JSONField(source="item.metadata")


class TrainingAttemptSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="attempt.pk")
    number = serializers.IntegerField(source="attempt.number")
    guideline_version = serializers.IntegerField(
        source="attempt.guideline_version.number", allow_null=True, default=None
    )
    started_at = serializers.DateTimeField(source="attempt.started_at")
    finished_at = serializers.DateTimeField(source="attempt.finished_at", allow_null=True)
    answered = serializers.IntegerField()
    correct = serializers.IntegerField(
        source="attempt.correct", help_text="Set when the attempt is finished."
    )
    total = serializers.IntegerField(source="attempt.total")
    passed = serializers.BooleanField(source="attempt.passed", allow_null=True)
    next_item = TrainingNextItemSerializer(allow_null=True)
    question = TrainingQuestionSerializer(allow_null=True, help_text="How next_item is asked.")


class TrainingAnswerSerializer(serializers.Serializer):
    training_item = serializers.IntegerField()
    answer = serializers.JSONField(help_text=ANSWER_HELP)


class TrainingFeedbackSerializer(serializers.Serializer):
    training_item = serializers.IntegerField(source="training_item.pk")
    correct = serializers.BooleanField(source="is_correct")
    answer = serializers.JSONField(source="given")
    gold = serializers.JSONField()
    answer_display = serializers.CharField(source="given_display")
    gold_display = serializers.CharField()
    explanation = serializers.CharField()
    guideline_section = serializers.CharField(source="section_heading")
    section_html = serializers.CharField(
        allow_null=True, help_text="The guideline section, rendered and sanitised."
    )
    attempt = TrainingAttemptSerializer(source="progress")


class TrainingItems(APIView):
    """GET the training items with their gold answers; PUT replaces them, in order."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, CanReadGold]

    @extend_schema(responses=TrainingItemSerializer(many=True))
    def get(self, request, project_id: int):
        items = selectors.training_items(self.project)
        return Response(TrainingItemSerializer(items, many=True).data)

    @extend_schema(
        request=TrainingItemSerializer(many=True), responses=TrainingItemSerializer(many=True)
    )
    def put(self, request, project_id: int):
        incoming = TrainingItemSerializer(data=request.data, many=True)
        incoming.is_valid(raise_exception=True)
        services.training_items_set(
            project=self.project, by=request.user, entries=incoming.validated_data
        )
        items = selectors.training_items(self.project)
        return Response(TrainingItemSerializer(items, many=True).data)


class TrainingRule(APIView):
    """GET the pass rule (404 when none is set); PUT sets it."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]

    def _body(self) -> dict:
        rule = selectors.qualification_rule(self.project)
        return {
            "min_correct": rule.min_correct,
            "max_attempts": rule.max_attempts,
            "training_items": selectors.training_items(self.project).count(),
        }

    @extend_schema(responses={200: TrainingRuleSerializer, 404: None})
    def get(self, request, project_id: int):
        return Response(TrainingRuleSerializer(self._body()).data)

    @extend_schema(request=TrainingRuleSerializer, responses=TrainingRuleSerializer)
    def put(self, request, project_id: int):
        incoming = TrainingRuleSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.qualification_rule_set(
            project=self.project,
            by=request.user,
            min_correct=incoming.validated_data["min_correct"],
            max_attempts=incoming.validated_data["max_attempts"],
        )
        return Response(TrainingRuleSerializer(self._body()).data)


class TrainingAttempts(APIView):
    """Start a training attempt (201), or get back the unfinished one (200)."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectAnnotator]

    @extend_schema(
        request=None, responses={200: TrainingAttemptSerializer, 201: TrainingAttemptSerializer}
    )
    def post(self, request, project_id: int):
        resumed = selectors.current_attempt(self.project, request.user) is not None
        attempt = services.training_attempt_start(project=self.project, annotator=request.user)
        return Response(
            TrainingAttemptSerializer(selectors.attempt_progress(attempt)).data,
            status=status.HTTP_200_OK if resumed else status.HTTP_201_CREATED,
        )


class TrainingAttemptCurrent(APIView):
    """The caller's unfinished attempt with its next item; 404 when none is in progress."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectAnnotator]

    @extend_schema(responses={200: TrainingAttemptSerializer, 404: None})
    def get(self, request, project_id: int):
        attempt = selectors.current_attempt(self.project, request.user)
        if attempt is None:
            return Response(
                {"detail": "No training attempt in progress."}, status=status.HTTP_404_NOT_FOUND
            )
        return Response(TrainingAttemptSerializer(selectors.attempt_progress(attempt)).data)


class TrainingAnswers(APIView):
    """Answer one training item of the attempt; the feedback includes the gold answer."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectAnnotator]

    @extend_schema(request=TrainingAnswerSerializer, responses={201: TrainingFeedbackSerializer})
    def post(self, request, project_id: int, attempt_id: int):
        attempt = selectors.attempt_for_annotator(self.project, request.user, attempt_id)
        incoming = TrainingAnswerSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        training_item = selectors.training_item_get(self.project, data["training_item"])
        feedback = services.training_answer(
            attempt=attempt, by=request.user, training_item=training_item, answer=data["answer"]
        )
        body = TrainingFeedbackSerializer(
            {**vars(feedback), "progress": selectors.attempt_progress(feedback.attempt)}
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


urlpatterns = [
    path(
        "projects/<int:project_id>/training/items/",
        TrainingItems.as_view(),
        name="api_training_items",
    ),
    path(
        "projects/<int:project_id>/training/rule/", TrainingRule.as_view(), name="api_training_rule"
    ),
    path(
        "projects/<int:project_id>/training/attempts/",
        TrainingAttempts.as_view(),
        name="api_training_attempts",
    ),
    path(
        "projects/<int:project_id>/training/attempts/current/",
        TrainingAttemptCurrent.as_view(),
        name="api_training_attempt_current",
    ),
    path(
        "projects/<int:project_id>/training/attempts/<int:attempt_id>/answers/",
        TrainingAnswers.as_view(),
        name="api_training_answers",
    ),
]
