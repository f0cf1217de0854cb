"""REST API for step 11: verification runs (start, status, cancel, report, suspicious items,
send to a verification batch) and external predictions. Same services and rules as the pages:
managers write, reviewers read, annotators and outsiders get 403."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from dmops.api import IsProjectMember
from evaluation.api.permissions import IsProjectManager, IsReviewerOrManager
from evaluation.models import VerificationRun
from evaluation.selectors import verification as selectors
from evaluation.services import verification as services
from evaluation.services import verification_queue as queue_services

RUN_STATUS_HELP = " | ".join(VerificationRun.Status.values)
MEMBER = [permissions.IsAuthenticated, IsProjectMember]


class ReaderOrManagerWrites(permissions.BasePermission):
    """Reviewers and managers read; only managers write."""

    message = "Only managers change verification runs; reviewers and managers read them."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return IsReviewerOrManager().has_permission(request, view)
        return IsProjectManager().has_permission(request, view)


class RunSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=RUN_STATUS_HELP)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = VerificationRun
        fields = [
            "id",
            "status",
            "stage",
            "progress",
            "cancel_requested",
            "config",
            "model_revision",
            "library_versions",
            "n_items",
            "n_embedded",
            "macro_f1",
            "error",
            "findings_note",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class RunStartSerializer(serializers.Serializer):
    n_folds = serializers.IntegerField(min_value=2, max_value=20, required=False)
    top_k = serializers.IntegerField(min_value=1, max_value=5000, required=False)
    seeds = serializers.ListField(child=serializers.IntegerField(), required=False)
    fractions = serializers.ListField(
        child=serializers.FloatField(min_value=0.01, max_value=1), required=False
    )


class SuspiciousSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    item_id = serializers.IntegerField()
    text = serializers.CharField()
    given_label_name = serializers.CharField()
    suggested_label_name = serializers.CharField()
    self_confidence = serializers.FloatField()
    suggested_confidence = serializers.FloatField()
    score = serializers.FloatField(help_text="1 - self_confidence: higher is more suspicious.")


class SendSerializer(serializers.Serializer):
    item_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    top_k = serializers.IntegerField(min_value=1, max_value=5000, required=False)


class BatchCreatedSerializer(serializers.Serializer):
    batch_id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()


class PredictionSerializer(serializers.Serializer):
    item_id = serializers.IntegerField()
    label = serializers.CharField(max_length=200)
    score = serializers.FloatField(min_value=0, max_value=1)


class PredictionsSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=200)
    predictions = PredictionSerializer(many=True, allow_empty=False)


class StoredSerializer(serializers.Serializer):
    stored = serializers.IntegerField()


def _run(view) -> VerificationRun:
    return selectors.run_get(view.project, view.kwargs["run_id"])


class RunListStart(APIView):
    """GET: the project's runs, newest first. POST (managers): start a run."""

    permission_classes = [*MEMBER, ReaderOrManagerWrites]

    @extend_schema(responses=RunSerializer(many=True))
    def get(self, request, project_id: int) -> Response:
        runs = selectors.run_list(self.project)[:100]
        return Response(RunSerializer(runs, many=True).data)

    @extend_schema(request=RunStartSerializer, responses={202: RunSerializer})
    def post(self, request, project_id: int) -> Response:
        data = RunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.verification_run_start(
            project=self.project, by=request.user, config=dict(data.validated_data)
        )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetail(generics.RetrieveAPIView):
    """A run's status and progress (poll it while it runs)."""

    serializer_class = RunSerializer
    permission_classes = [*MEMBER, IsReviewerOrManager]

    def get_object(self) -> VerificationRun:
        return _run(self)


class RunCancel(APIView):
    permission_classes = [*MEMBER, IsProjectManager]

    @extend_schema(request=None, responses=RunSerializer)
    def post(self, request, project_id: int, run_id: int) -> Response:
        run = services.verification_run_cancel(run=_run(self), by=request.user)
        return Response(RunSerializer(run).data)


class RunReport(APIView):
    """The full report JSON: learnability, learning curve, suspicious labels, error pairs."""

    permission_classes = [*MEMBER, IsReviewerOrManager]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, project_id: int, run_id: int) -> Response:
        run = _run(self)
        report = {**run.report, "verdicts": selectors.verdict_counts(run)}
        report.pop("data", None)
        return Response(report)


class RunSuspicious(APIView):
    permission_classes = [*MEMBER, IsReviewerOrManager]

    @extend_schema(responses=SuspiciousSerializer(many=True))
    def get(self, request, project_id: int, run_id: int) -> Response:
        rows = _run(self).report.get("suspicious", [])
        return Response(SuspiciousSerializer(rows, many=True).data)


class RunSend(APIView):
    """Managers: send chosen suspicious items (or the top k) into a verification batch."""

    permission_classes = [*MEMBER, IsProjectManager]

    @extend_schema(request=SendSerializer, responses={201: BatchCreatedSerializer})
    def post(self, request, project_id: int, run_id: int) -> Response:
        data = SendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = queue_services.suspicious_send(
            run=_run(self),
            by=request.user,
            item_ids=data.validated_data.get("item_ids"),
            top_k=data.validated_data.get("top_k", 50),
        )
        body = {"batch_id": batch.pk, "name": batch.name, "size": batch.batch_items.count()}
        return Response(BatchCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class Predictions(APIView):
    """Managers: post an outside model's predictions (pre-annotation)."""

    permission_classes = [*MEMBER, IsProjectManager]

    @extend_schema(request=PredictionsSerializer, responses={201: StoredSerializer})
    def post(self, request, project_id: int) -> Response:
        data = PredictionsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stored = queue_services.predictions_store(
            project=self.project,
            by=request.user,
            model_name=data.validated_data["model"],
            predictions=data.validated_data["predictions"],
        )
        return Response({"stored": stored}, status=status.HTTP_201_CREATED)


P = "projects/<int:project_id>/verification/runs/"
urlpatterns = [
    path(P, RunListStart.as_view(), name="api_verification_runs"),
    path(f"{P}<int:run_id>/", RunDetail.as_view(), name="api_verification_run"),
    path(f"{P}<int:run_id>/cancel/", RunCancel.as_view(), name="api_verification_run_cancel"),
    path(f"{P}<int:run_id>/report/", RunReport.as_view(), name="api_verification_report"),
    path(
        f"{P}<int:run_id>/suspicious/",
        RunSuspicious.as_view(),
        name="api_verification_suspicious",
    ),
    path(f"{P}<int:run_id>/send/", RunSend.as_view(), name="api_verification_send"),
    path("projects/<int:project_id>/predictions/", Predictions.as_view(), name="api_predictions"),
]
