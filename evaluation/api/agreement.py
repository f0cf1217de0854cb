"""REST API for step 9: agreement reports (every figure with its CI), pilots, quality settings
and opening the main batches. Same services and rules as the pages."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Batch
from annotation.services import pilot as pilot_services
from dmops.api import IsProjectMember
from evaluation.api.permissions import IsManagerOrReadOnly, IsProjectManager
from evaluation.models import RELIABLE_ALPHA, AgreementReport, QualitySettings
from evaluation.selectors import agreement as selectors
from evaluation.services import agreement as services

STATUS_HELP = " | ".join(AgreementReport.Status.values)


class ReportBriefSerializer(serializers.ModelSerializer):
    batch_name = serializers.CharField(source="batch.name", read_only=True)
    batch_kind = serializers.CharField(source="batch.kind", read_only=True)
    # A plain string: other components already have an enum called "status".
    status = serializers.CharField(read_only=True, help_text=STATUS_HELP)
    guideline_version = serializers.IntegerField(
        source="guideline_version.number", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = AgreementReport
        fields = [
            "id",
            "batch",
            "batch_name",
            "batch_kind",
            "status",
            "guideline_version",
            "mixed_guidelines",
            "threshold",
            "alpha",
            "gwet_ac1",
            "percent_agreement",
            "n_items",
            "n_annotators",
            "n_judgements",
            "message",
            "requested_at",
            "computed_at",
        ]
        read_only_fields = fields


class ReportSerializer(ReportBriefSerializer):
    results = serializers.JSONField(
        read_only=True,
        help_text=(
            "Every figure: percent_agreement, fleiss_kappa, gwet_ac1, krippendorff_alpha (each "
            "{value, ci: {low, high, n_valid_resamples}, reason}), cohen_kappa.pairwise (in the "
            "order of annotators), per_label, confusion, disagreement.items (item_id, text, "
            "answers), prevalence_skew, bootstrap; krippendorff_alpha_scale (ordinal/interval) "
            "when the schema's labels are ordered. Multi-label schemas (multi_label: true): "
            "krippendorff_alpha with the MASI distance, krippendorff_alpha_jaccard, exact-set "
            "percent_agreement, per_label yes/no figures with CIs and their label_mean."
        ),
    )

    class Meta(ReportBriefSerializer.Meta):
        fields = [*ReportBriefSerializer.Meta.fields, "results"]
        read_only_fields = fields


class ReportRequestSerializer(serializers.Serializer):
    batch = serializers.IntegerField(help_text="A batch of the project with overlap > 1.")


class PilotCreateSerializer(serializers.Serializer):
    size = serializers.IntegerField(min_value=2, max_value=1000, default=10)
    seed = serializers.IntegerField(required=False, allow_null=True, default=None)


class PilotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Batch
        fields = ["id", "name", "overlap", "is_open", "created_at"]
        read_only_fields = fields


class OpenedSerializer(serializers.Serializer):
    opened = serializers.ListField(child=serializers.IntegerField())


class QualitySettingsSerializer(serializers.ModelSerializer):
    reliable_alpha = serializers.SerializerMethodField()

    class Meta:
        model = QualitySettings
        fields = [
            "alpha_threshold",
            "gold_accuracy_min",
            "low_confidence_threshold",
            "spot_check_percent",
            "acceptance_threshold",
            "blind_mode",
            "reliable_alpha",
            "updated_at",
        ]
        read_only_fields = ["reliable_alpha", "updated_at"]

    def get_reliable_alpha(self, obj) -> float:
        return RELIABLE_ALPHA


class ReportListRequest(APIView):
    """GET the project's reports (annotators in blind mode: closed batches only); POST asks
    for a batch's report, computed by a background job (202)."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsManagerOrReadOnly]

    @extend_schema(responses=ReportBriefSerializer(many=True))
    def get(self, request, project_id: int):
        reports = selectors.report_list(self.project, self.role)
        return Response(ReportBriefSerializer(reports, many=True).data)

    @extend_schema(request=ReportRequestSerializer, responses={202: ReportBriefSerializer})
    def post(self, request, project_id: int):
        incoming = ReportRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        batch = Batch.objects.filter(project=self.project, pk=incoming.validated_data["batch"])
        if not batch.exists():
            raise serializers.ValidationError({"batch": "No such batch in this project."})
        report = services.agreement_report_request(batch=batch.get(), by=request.user)
        report.refresh_from_db()
        return Response(ReportBriefSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class ReportDetail(APIView):
    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    @extend_schema(responses=ReportSerializer)
    def get(self, request, project_id: int, report_id: int):
        report = selectors.report_for_member(self.project, self.role, report_id)
        return Response(ReportSerializer(report).data)


class PilotCreate(APIView):
    """Start a pilot: random items stratified by weak label, every active annotator on each."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManager]

    @extend_schema(request=PilotCreateSerializer, responses={201: PilotSerializer})
    def post(self, request, project_id: int):
        incoming = PilotCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        batch = pilot_services.pilot_batch_create(
            project=self.project, by=request.user, **incoming.validated_data
        )
        return Response(PilotSerializer(batch).data, status=status.HTTP_201_CREATED)


class MainBatchesOpen(APIView):
    """Open the main batches; refused (400) until the pilot gate of step 9 passes."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManager]

    @extend_schema(request=None, responses=OpenedSerializer)
    def post(self, request, project_id: int):
        opened = services.main_batches_open(project=self.project, by=request.user)
        return Response({"opened": [b.pk for b in opened]})


class IntervalSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()


class PilotHistoryRowSerializer(serializers.Serializer):
    pilot = serializers.IntegerField(source="n", help_text="1 for the first pilot run, and so on.")
    report = serializers.IntegerField(source="report.pk")
    batch = serializers.IntegerField(source="report.batch_id")
    batch_name = serializers.CharField(source="report.batch.name")
    guideline_version = serializers.IntegerField(source="guideline", allow_null=True)
    mixed_guidelines = serializers.BooleanField(source="report.mixed_guidelines")
    alpha = serializers.FloatField(allow_null=True, help_text="The alpha the step 9 gate reads.")
    alpha_level = serializers.CharField(help_text="nominal | ordinal | interval | masi")
    alpha_ci = serializers.SerializerMethodField()
    gwet_ac1 = serializers.FloatField(source="ac1", allow_null=True)
    gwet_ac1_ci = serializers.SerializerMethodField()
    computed_at = serializers.DateTimeField(source="report.computed_at")

    @staticmethod
    def _interval(ci) -> dict | None:
        return {"low": ci[0], "high": ci[1]} if ci else None

    @extend_schema_field(IntervalSerializer(allow_null=True))
    def get_alpha_ci(self, row) -> dict | None:
        return self._interval(row["alpha_ci"])

    @extend_schema_field(IntervalSerializer(allow_null=True))
    def get_gwet_ac1_ci(self, row) -> dict | None:
        return self._interval(row["ac1_ci"])


class PilotHistory(APIView):
    """Agreement pilot by pilot (completed pilots, oldest first) with 95 % bootstrap intervals:
    the data of the chart on the agreement page. Annotators in blind mode: closed pilots only."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    @extend_schema(responses=PilotHistoryRowSerializer(many=True))
    def get(self, request, project_id: int):
        history = selectors.pilot_history(self.project, self.role)
        rows = selectors.pilot_history_rows(history)
        return Response(PilotHistoryRowSerializer(rows, many=True).data)


class QualitySettingsDetail(APIView):
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsManagerOrReadOnly]

    @extend_schema(responses=QualitySettingsSerializer)
    def get(self, request, project_id: int):
        settings = selectors.quality_settings_for(self.project)
        return Response(QualitySettingsSerializer(settings).data)

    @extend_schema(request=QualitySettingsSerializer, responses=QualitySettingsSerializer)
    def patch(self, request, project_id: int):
        current = selectors.quality_settings_for(self.project)
        incoming = QualitySettingsSerializer(current, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        settings = services.quality_settings_update(
            project=self.project, by=request.user, **incoming.validated_data
        )
        return Response(QualitySettingsSerializer(settings).data)


urlpatterns = [
    path(
        "projects/<int:project_id>/agreement-reports/",
        ReportListRequest.as_view(),
        name="api_agreement_reports",
    ),
    path(
        "projects/<int:project_id>/agreement-reports/<int:report_id>/",
        ReportDetail.as_view(),
        name="api_agreement_report",
    ),
    path("projects/<int:project_id>/pilots/", PilotCreate.as_view(), name="api_pilots"),
    path(
        "projects/<int:project_id>/pilot-history/",
        PilotHistory.as_view(),
        name="api_pilot_history",
    ),
    path(
        "projects/<int:project_id>/main-batches/open/",
        MainBatchesOpen.as_view(),
        name="api_main_batches_open",
    ),
    path(
        "projects/<int:project_id>/quality-settings/",
        QualitySettingsDetail.as_view(),
        name="api_quality_settings",
    ),
]
