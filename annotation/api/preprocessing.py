"""REST endpoints for step 3 pre-processing runs."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import PreprocessingRun
from annotation.selectors.preprocessing import preprocessing_runs
from annotation.services import preprocessing as service
from dmops.api import IsProjectManagerOrReadOnly, IsProjectMember
from dmops.models import Membership
from dmops.selectors import project_for_member


class PreprocessingRunSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = PreprocessingRun
        fields = [
            "id",
            "status",
            "config",
            "report",
            "error",
            "created_by",
            "created_at",
            "finished_at",
        ]


class ConfigSerializer(serializers.Serializer):
    config = serializers.DictField(
        help_text="Options of annotation.preprocessing.PreprocessingConfig, e.g. "
        '{"dedupe": "loose", "min_words": 10, "require_capital": true, "pii_action": "mask"}'
    )


def _without_pii_examples(data: dict, role: str) -> dict:
    # The examples quote raw PII: only managers, who run pre-processing, see them.
    if role != Membership.Role.MANAGER and data.get("report"):
        data["report"] = {k: v for k, v in data["report"].items() if k != "pii_examples"}
    return data


class RunListCreate(generics.ListAPIView):
    serializer_class = PreprocessingRunSerializer
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]

    def get_queryset(self):
        return preprocessing_runs(self.project)

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        response.data["results"] = [
            _without_pii_examples(row, self.role) for row in response.data["results"]
        ]
        return response

    @extend_schema(request=ConfigSerializer, responses={202: PreprocessingRunSerializer})
    def post(self, request, project_id: int):
        incoming = ConfigSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        run = service.preprocessing_run_start(
            project=self.project, by=request.user, config=incoming.validated_data["config"]
        )
        run.refresh_from_db()
        return Response(PreprocessingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunPreview(APIView):
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]

    @extend_schema(request=ConfigSerializer, responses={200: dict})
    def post(self, request, project_id: int):
        incoming = ConfigSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        report = service.preprocessing_preview(
            project=self.project, by=request.user, config=incoming.validated_data["config"]
        )
        return Response(report)


class RunRevert(APIView):
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]

    @extend_schema(request=None, responses=PreprocessingRunSerializer)
    def post(self, request, project_id: int):
        run = service.preprocessing_revert(project=self.project, by=request.user)
        return Response(PreprocessingRunSerializer(run).data)


class RunDetail(APIView):
    @extend_schema(responses=PreprocessingRunSerializer)
    def get(self, request, run_id: int):
        run = generics.get_object_or_404(PreprocessingRun, pk=run_id)
        _, role = project_for_member(request.user, run.project_id)
        return Response(_without_pii_examples(PreprocessingRunSerializer(run).data, role))


urlpatterns = [
    path(
        "projects/<int:project_id>/preprocessing-runs/",
        RunListCreate.as_view(),
        name="api_preprocessing_runs",
    ),
    path(
        "projects/<int:project_id>/preprocessing-runs/preview/",
        RunPreview.as_view(),
        name="api_preprocessing_preview",
    ),
    path(
        "projects/<int:project_id>/preprocessing-runs/revert/",
        RunRevert.as_view(),
        name="api_preprocessing_revert",
    ),
    path("preprocessing-runs/<int:run_id>/", RunDetail.as_view(), name="api_preprocessing_run"),
]
