"""REST endpoints for step 12: releases, their exports and rows, live export, the webhook.

Exports (``GET /api/releases/{id}/export?format=&split=&fields=``):

* With the default fields, a file built at release time is served: strong ``ETag`` = its
  SHA-256 (``If-None-Match`` → 304), ``Accept-Ranges: bytes`` and single ``Range`` requests
  → 206 with ``Content-Range`` (``If-Range`` honoured; several ranges → the whole file).
* Otherwise (a ``fields`` choice, a split of the Label Studio file) rows are streamed from a
  server-side cursor with a weak ETag derived from the (immutable) release and the request;
  no Range support there.
* A release still building or failed: 409 for exports and rows.

Creating a release (``POST /api/projects/{id}/releases/``) answers 202 with the release in
its *building* state and ``status_url`` (also the ``Location`` header) to poll.

Live-project export (``GET /api/projects/{id}/export``) streams current final labels.
``format`` is read by these views themselves, not by DRF's renderer switch.
"""

from __future__ import annotations

from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.release_http import export_response, live_export_response, require_published
from annotation.models import RELEASE_SPLITS, Release, ReleaseFile, ReleaseRow, Webhook
from annotation.selectors import releases as selectors
from annotation.services import releases as services
from annotation.services import webhooks
from annotation.services.datasheet import datasheet_markdown
from dmops.api import IsProjectMember
from dmops.authentication import TokenAuthentication

MAX_PAGE = 1000


class AuthMixin:
    # Token first, so an anonymous request is told 401 (with WWW-Authenticate), not 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated]


class OwnFormatParam:
    """``?format=`` names the export format here, not a DRF renderer."""

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type


class ReleaseFileSerializer(serializers.ModelSerializer):
    split = serializers.CharField(help_text="Empty: every row.")

    class Meta:
        model = ReleaseFile
        fields = ["format", "split", "sha256", "byte_count", "row_count"]


class ReleaseSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)
    status = serializers.CharField(help_text="building, published or failed.")
    files = ReleaseFileSerializer(many=True, read_only=True)

    class Meta:
        model = Release
        fields = [
            "id",
            "project",
            "number",
            "status",
            "progress",
            "stage",
            "note",
            "known_limitations",
            "split_ratios",
            "seed",
            "filters",
            "include_judgements",
            "row_count",
            "split_counts",
            "created_by",
            "created_at",
            "published_at",
            "files",
        ]


class ReleaseDetailSerializer(ReleaseSerializer):
    datasheet = serializers.JSONField(help_text="Sections: key, title, mandatory, empty, data.")
    datasheet_markdown = serializers.SerializerMethodField()

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "error", "datasheet", "datasheet_markdown"]

    def get_datasheet_markdown(self, release: Release) -> str:
        return datasheet_markdown(release)


class ReleaseAcceptedSerializer(ReleaseDetailSerializer):
    status_url = serializers.CharField(help_text="GET it until status is not building.")

    class Meta(ReleaseDetailSerializer.Meta):
        fields = [*ReleaseDetailSerializer.Meta.fields, "status_url"]


class ReleaseCreateSerializer(serializers.Serializer):
    split_ratios = serializers.DictField(
        child=serializers.FloatField(min_value=0, max_value=1),
        required=False,
        help_text='e.g. {"train": 0.8, "dev": 0.1, "test": 0.1}; default: the last release\'s',
    )
    seed = serializers.CharField(required=False, allow_blank=True, max_length=64)
    batch_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    source_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    include_judgements = serializers.BooleanField(required=False, default=False)
    known_limitations = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ReleaseRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReleaseRow
        fields = ["id", "item", "split", "text", "label", "label_rule", "confidence", "metadata"]


class ReleaseRowPageSerializer(serializers.Serializer):
    results = ReleaseRowSerializer(many=True)
    next_after = serializers.IntegerField(allow_null=True, help_text="Pass as ?after= next.")


class RowsQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=100)


class WebhookSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(
        required=False, allow_blank=True, help_text="HMAC key; blank keeps (or makes) one."
    )

    class Meta:
        model = Webhook
        fields = ["url", "secret", "is_active", "created_at"]
        read_only_fields = ["created_at"]


class ReleaseListCreate(AuthMixin, APIView):
    """Releases of the project, newest first (managers and reviewers); POST creates the next
    one (managers)."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    @extend_schema(responses=ReleaseSerializer(many=True))
    def get(self, request, project_id: int):
        selectors.require_reader(self.role)
        return Response(ReleaseSerializer(selectors.release_list(self.project), many=True).data)

    @extend_schema(request=ReleaseCreateSerializer, responses={202: ReleaseAcceptedSerializer})
    def post(self, request, project_id: int):
        """Record the next release as *building* and queue its build; poll ``status_url``
        (the release) until ``status`` is published or failed."""
        selectors.require_manager(self.role, "create a release")
        incoming = ReleaseCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        release = services.release_create(
            project=self.project,
            by=request.user,
            ratios=data.get("split_ratios"),
            seed=data.get("seed") or None,
            batch_ids=data.get("batch_ids", ()),
            source_ids=data.get("source_ids", ()),
            include_judgements=data["include_judgements"],
            known_limitations=data["known_limitations"],
            note=data["note"],
        )
        release.refresh_from_db()  # with no broker the build has already run in-process
        status_url = reverse("api_release", args=[release.pk])
        data = {**ReleaseDetailSerializer(release).data, "status_url": status_url}
        return Response(data, status=202, headers={"Location": status_url})


class ReleaseDetail(AuthMixin, APIView):
    @extend_schema(responses=ReleaseDetailSerializer)
    def get(self, request, pk: int):
        release, _ = selectors.release_for_reader(request.user, pk)
        return Response(ReleaseDetailSerializer(release).data)


EXPORT_PARAMS = [
    OpenApiParameter("format", str, enum=["jsonl", "csv", "parquet", "labelstudio"]),
    OpenApiParameter("fields", str, description="Comma-separated row fields; default all."),
]


class ReleaseExport(OwnFormatParam, AuthMixin, APIView):
    @extend_schema(
        parameters=[*EXPORT_PARAMS, OpenApiParameter("split", str, enum=list(RELEASE_SPLITS))],
        responses={(200, "*/*"): OpenApiTypes.BINARY, (206, "*/*"): OpenApiTypes.BINARY},
    )
    def get(self, request, pk: int):
        release, _ = selectors.release_for_reader(request.user, pk)
        return export_response(request, release)


class ReleaseRows(AuthMixin, APIView):
    """Rows by id, ``limit`` at a time (≤ 1000): pass the last id back as ``after``."""

    @extend_schema(parameters=[RowsQuerySerializer], responses=ReleaseRowPageSerializer)
    def get(self, request, pk: int):
        release, _ = selectors.release_for_reader(request.user, pk)
        require_published(release)
        query = RowsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data["limit"]
        rows = selectors.release_rows_page(
            release, after=query.validated_data["after"], limit=limit
        )
        next_after = rows[-1].pk if len(rows) == limit else None
        return Response(ReleaseRowPageSerializer({"results": rows, "next_after": next_after}).data)


class ProjectExport(OwnFormatParam, AuthMixin, APIView):
    """The live project's current final labels, streamed (managers only)."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    @extend_schema(parameters=EXPORT_PARAMS, responses={(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request, project_id: int):
        selectors.require_manager(self.role, "export the live project")
        return live_export_response(request, self.project)


class ProjectWebhook(AuthMixin, APIView):
    """The project's release webhook (managers only)."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    @extend_schema(responses=WebhookSerializer)
    def get(self, request, project_id: int):
        selectors.require_manager(self.role, "see the webhook")
        webhook = Webhook.objects.filter(project=self.project).first()
        return Response(WebhookSerializer(webhook).data if webhook else {})

    @extend_schema(request=WebhookSerializer, responses=WebhookSerializer)
    def put(self, request, project_id: int):
        selectors.require_manager(self.role, "configure the webhook")
        incoming = WebhookSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        webhook = webhooks.webhook_set(
            project=self.project, by=request.user, **incoming.validated_data
        )
        return Response(WebhookSerializer(webhook).data)


urlpatterns = [
    path("projects/<int:project_id>/releases/", ReleaseListCreate.as_view(), name="api_releases"),
    path("projects/<int:project_id>/export", ProjectExport.as_view(), name="api_project_export"),
    path(
        "projects/<int:project_id>/webhook/", ProjectWebhook.as_view(), name="api_project_webhook"
    ),
    path("releases/<int:pk>/", ReleaseDetail.as_view(), name="api_release"),
    path("releases/<int:pk>/export", ReleaseExport.as_view(), name="api_release_export"),
    path("releases/<int:pk>/rows", ReleaseRows.as_view(), name="api_release_rows"),
]
