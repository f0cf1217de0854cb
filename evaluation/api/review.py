"""REST API for ongoing quality and step 10: aggregated labels per item, annotator statistics,
aggregation runs, gold answers, the review queue and review decisions."""

from __future__ import annotations

from dataclasses import asdict

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import BatchItem, Item, Review
from dmops.api import IsProjectMember
from evaluation.api.permissions import IsManagerOrReadOnly, IsReviewerOrManager
from evaluation.models import AggregationRun, GoldAnswer
from evaluation.selectors import quality as quality_selectors
from evaluation.selectors import review as selectors
from evaluation.services import quality as quality_services
from evaluation.services import review as services

MEMBER = [permissions.IsAuthenticated, IsProjectMember]


class AggregatedLabelSerializer(serializers.ModelSerializer):
    item_id = serializers.IntegerField(source="pk")
    # A plain string: the release export already names this choice set.
    final_rule = serializers.CharField(read_only=True, help_text="reviewed | aggregated | single")

    class Meta:
        model = Item
        fields = ["item_id", "external_id", "final_label", "final_confidence", "final_rule"]
        read_only_fields = fields


class AnnotatorStatSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    n_judgements = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)
    n_gold = serializers.IntegerField()
    estimated_accuracy = serializers.FloatField(
        allow_null=True, help_text="From the latest Dawid–Skene run."
    )
    paused = serializers.BooleanField()
    flagged = serializers.BooleanField(help_text="Gold accuracy below the project's minimum.")


class AggregationRunSerializer(serializers.ModelSerializer):
    method = serializers.CharField(read_only=True, help_text="majority | dawid_skene")

    class Meta:
        model = AggregationRun
        fields = [
            "id",
            "method",
            "n_items",
            "n_written",
            "n_kept_reviewed",
            "n_gold",
            "converged",
            "annotator_stats",
            "created_at",
        ]
        read_only_fields = fields


class AggregateSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=AggregationRun.Method.choices)


class GoldAnswerSerializer(serializers.ModelSerializer):
    item_id = serializers.IntegerField(source="batch_item.item_id", read_only=True)
    batch_item = serializers.IntegerField(source="batch_item.pk")

    class Meta:
        model = GoldAnswer
        fields = ["id", "batch_item", "item_id", "answer", "created_at"]
        read_only_fields = ["id", "item_id", "created_at"]


class ReviewSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(read_only=True, help_text=" | ".join(Review.Reason.values))
    decision = serializers.CharField(
        read_only=True, help_text="empty while pending; " + " | ".join(Review.Decision.values)
    )
    reviewer = serializers.CharField(source="reviewer.username", default=None, read_only=True)
    item_text = serializers.CharField(source="item.text", read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "item",
            "item_text",
            "reason",
            "decision",
            "label",
            "note",
            "reviewer",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Review.Decision.choices)
    label = serializers.JSONField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class QueueFillSerializer(serializers.Serializer):
    disagreement = serializers.IntegerField()
    low_confidence = serializers.IntegerField()
    spot_check = serializers.IntegerField()


class AggregatedLabels(generics.ListAPIView):
    """Each item's final label, its confidence and the rule that set it."""

    serializer_class = AggregatedLabelSerializer
    permission_classes = [*MEMBER, IsReviewerOrManager]

    def get_queryset(self):
        return Item.objects.filter(project=self.project, final_label__isnull=False).order_by("pk")


class AnnotatorStats(APIView):
    permission_classes = [*MEMBER, IsReviewerOrManager]

    @extend_schema(responses=AnnotatorStatSerializer(many=True))
    def get(self, request, project_id: int):
        rows = [asdict(r) for r in quality_selectors.annotator_roster(self.project)]
        return Response(AnnotatorStatSerializer(rows, many=True).data)


class Aggregations(APIView):
    """GET past aggregation runs; POST starts one in the background (managers)."""

    permission_classes = [*MEMBER, IsReviewerOrManager, IsManagerOrReadOnly]

    @extend_schema(responses=AggregationRunSerializer(many=True))
    def get(self, request, project_id: int):
        runs = AggregationRun.objects.filter(project=self.project)[:50]
        return Response(AggregationRunSerializer(runs, many=True).data)

    @extend_schema(request=AggregateSerializer, responses={202: AggregateSerializer})
    def post(self, request, project_id: int):
        """Start an aggregation in the background (202); GET lists the finished runs."""
        incoming = AggregateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        quality_services.labels_aggregate_request(
            project=self.project, by=request.user, method=incoming.validated_data["method"]
        )
        return Response(incoming.data, status=status.HTTP_202_ACCEPTED)


class GoldAnswers(APIView):
    """GET the hidden gold items; POST marks a batch item as gold (managers)."""

    permission_classes = [*MEMBER, IsReviewerOrManager, IsManagerOrReadOnly]

    @extend_schema(responses=GoldAnswerSerializer(many=True))
    def get(self, request, project_id: int):
        gold = quality_selectors.gold_answers(self.project)
        return Response(GoldAnswerSerializer(gold, many=True).data)

    @extend_schema(request=GoldAnswerSerializer, responses={201: GoldAnswerSerializer})
    def post(self, request, project_id: int):
        incoming = GoldAnswerSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        batch_item = BatchItem.objects.filter(
            batch__project=self.project, pk=data["batch_item"]["pk"]
        ).first()
        if batch_item is None:
            raise serializers.ValidationError({"batch_item": "No such item in this project."})
        gold = quality_services.gold_answer_set(
            batch_item=batch_item, by=request.user, answer=data["answer"]
        )
        return Response(GoldAnswerSerializer(gold).data, status=status.HTTP_201_CREATED)


class Reviews(generics.ListAPIView):
    """The project's reviews; ``?state=pending`` for the queue, ``?state=decided`` for the
    decisions."""

    serializer_class = ReviewSerializer
    permission_classes = [*MEMBER, IsReviewerOrManager]

    def get_queryset(self):
        state = self.request.query_params.get("state")
        if state == "pending":
            return selectors.review_queue(self.project)
        reviews = selectors.project_reviews(self.project).select_related("item", "reviewer")
        if state == "decided":
            reviews = reviews.exclude(decision="")
        return reviews.order_by("pk")


class ReviewQueueFill(APIView):
    permission_classes = [*MEMBER, IsReviewerOrManager]

    @extend_schema(request=None, responses=QueueFillSerializer)
    def post(self, request, project_id: int):
        fill = services.review_queue_fill(project=self.project, by=request.user)
        return Response(QueueFillSerializer(fill).data)


class ReviewDecision(APIView):
    permission_classes = [*MEMBER, IsReviewerOrManager]

    @extend_schema(request=DecisionSerializer, responses=ReviewSerializer)
    def post(self, request, project_id: int, review_id: int):
        review = selectors.review_get(self.project, review_id)
        incoming = DecisionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        review = services.review_decide(review=review, by=request.user, **incoming.validated_data)
        return Response(ReviewSerializer(selectors.review_get(self.project, review.pk)).data)


urlpatterns = [
    path(
        "projects/<int:project_id>/aggregated-labels/",
        AggregatedLabels.as_view(),
        name="api_aggregated_labels",
    ),
    path(
        "projects/<int:project_id>/annotator-stats/",
        AnnotatorStats.as_view(),
        name="api_annotator_stats",
    ),
    path(
        "projects/<int:project_id>/aggregations/", Aggregations.as_view(), name="api_aggregations"
    ),
    path("projects/<int:project_id>/gold/", GoldAnswers.as_view(), name="api_gold_answers"),
    path("projects/<int:project_id>/reviews/", Reviews.as_view(), name="api_reviews"),
    path(
        "projects/<int:project_id>/reviews/fill/",
        ReviewQueueFill.as_view(),
        name="api_review_fill",
    ),
    path(
        "projects/<int:project_id>/reviews/<int:review_id>/decision/",
        ReviewDecision.as_view(),
        name="api_review_decision",
    ),
]
