"""REST API for the question log: list (with filters), ask, read, answer and promote. The same
services and visibility rules as the pages: annotators see their own questions and the
promoted ones; only managers answer and promote."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Item, Question
from annotation.selectors import questions as selectors
from annotation.services import questions as services
from dmops.api import IsProjectMember
from dmops.models import Membership

STATUS_HELP = " | ".join(Question.Status.values)


class LoggedQuestionSerializer(serializers.ModelSerializer):
    """A question of the log. (Named apart from the labelling API's schema "question".)"""

    # A plain string: other components already have an enum called "status".
    status = serializers.CharField(read_only=True, help_text=STATUS_HELP)
    asked_by = serializers.CharField(source="asked_by.username", default=None, read_only=True)
    answered_by = serializers.CharField(source="answered_by.username", default=None, read_only=True)
    guideline_version = serializers.IntegerField(
        source="guideline_version.number",
        default=None,
        read_only=True,
        help_text="Number of the guideline version current when the question was asked.",
    )
    promoted_to = serializers.IntegerField(
        source="promoted_to.number",
        default=None,
        read_only=True,
        help_text="Number of the guideline version the answer was promoted into.",
    )

    class Meta:
        model = Question
        fields = [
            "id",
            "project",
            "item",
            "label",
            "text",
            "status",
            "asked_by",
            "created_at",
            "guideline_version",
            "answer",
            "answered_by",
            "answered_at",
            "answer_seen_at",
            "promoted_to",
        ]
        read_only_fields = fields


class AskSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.MAX_QUESTION_LENGTH)
    item = serializers.IntegerField(required=False, allow_null=True, help_text="An item id")
    label = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="A label key of the schema"
    )


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=services.MAX_ANSWER_LENGTH)


class PromoteSerializer(serializers.Serializer):
    section = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text='A heading of the current guideline; "Clarifications" when left out.',
    )


FILTERS = [
    OpenApiParameter("status", OpenApiTypes.STR, enum=Question.Status.values),
    OpenApiParameter("label", OpenApiTypes.STR, description="A label key"),
    OpenApiParameter("item", OpenApiTypes.INT, description="An item id"),
    OpenApiParameter("q", OpenApiTypes.STR, description="Searches the question and the answer"),
]


class QuestionListCreate(generics.ListAPIView):
    """GET the questions the caller may see, open first; POST asks a new one (any member)."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember]
    serializer_class = LoggedQuestionSerializer

    def get_queryset(self):
        params = self.request.query_params
        item = params.get("item", "")
        if item and not item.isdigit():
            raise serializers.ValidationError({"item": "An item id is a number."})
        if params.get("status") and params["status"] not in Question.Status.values:
            raise serializers.ValidationError({"status": f"One of {STATUS_HELP}."})
        return selectors.question_search(
            self.project,
            self.request.user,
            role=self.role,
            q=params.get("q", ""),
            status=params.get("status", ""),
            label=params.get("label", ""),
            item=int(item) if item else None,
        )

    @extend_schema(parameters=FILTERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=AskSerializer, responses={201: LoggedQuestionSerializer})
    def post(self, request, project_id: int):
        incoming = AskSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        item = None
        if data.get("item") is not None:
            item = Item.objects.filter(pk=data["item"], project=self.project).first()
            if item is None:
                raise serializers.ValidationError(
                    {"item": "That item is not part of this project."}
                )
        question = services.question_ask(
            project=self.project, by=request.user, text=data["text"], item=item, label=data["label"]
        )
        question, _, _ = selectors.question_for_member(request.user, project_id, question.pk)
        return Response(LoggedQuestionSerializer(question).data, status=status.HTTP_201_CREATED)


def _manager_only(role: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied("Only a project manager can do this.")


class QuestionDetail(APIView):
    """One question (404 for another annotator's unpromoted question)."""

    @extend_schema(responses=LoggedQuestionSerializer)
    def get(self, request, pk: int):
        question, _, _ = selectors.question_by_id_for_member(request.user, pk)
        return Response(LoggedQuestionSerializer(question).data)


class QuestionAnswer(APIView):
    """Answer, or edit the answer until it is promoted. Managers only."""

    @extend_schema(request=AnswerSerializer, responses=LoggedQuestionSerializer)
    def post(self, request, pk: int):
        question, project, role = selectors.question_by_id_for_member(request.user, pk)
        _manager_only(role)
        incoming = AnswerSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.question_answer(
            question=question, by=request.user, answer=incoming.validated_data["answer"]
        )
        question, _, _ = selectors.question_for_member(request.user, project.pk, pk)
        return Response(LoggedQuestionSerializer(question).data)


class QuestionPromote(APIView):
    """Publish a new guideline version holding this Q&A. Managers only; 400 when unanswered
    or already promoted."""

    @extend_schema(request=PromoteSerializer, responses=LoggedQuestionSerializer)
    def post(self, request, pk: int):
        question, project, role = selectors.question_by_id_for_member(request.user, pk)
        _manager_only(role)
        incoming = PromoteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.question_promote(
            question=question, by=request.user, section=incoming.validated_data["section"]
        )
        question, _, _ = selectors.question_for_member(request.user, project.pk, pk)
        return Response(LoggedQuestionSerializer(question).data)


urlpatterns = [
    path(
        "projects/<int:project_id>/questions/",
        QuestionListCreate.as_view(),
        name="api_questions",
    ),
    path("questions/<int:pk>/", QuestionDetail.as_view(), name="api_question"),
    path("questions/<int:pk>/answer/", QuestionAnswer.as_view(), name="api_question_answer"),
    path("questions/<int:pk>/promote/", QuestionPromote.as_view(), name="api_question_promote"),
]
