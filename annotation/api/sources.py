"""REST API for step 2: sources, uploads and their import jobs, and the items they produced.

The same services as the pages: serializers validate input and shape output, nothing more.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import ImportJob, Item, Source
from annotation.selectors import sources as selectors
from annotation.services import sources as services
from dmops.api import IsProjectManagerOrReadOnly, IsProjectMember

# --- output -----------------------------------------------------------------------------------


class SourceSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    item_count = serializers.SerializerMethodField()
    licence_cleared = serializers.BooleanField(read_only=True)

    class Meta:
        model = Source
        fields = [
            "id", "project", "name", "origin_url", "licence", "licence_text", "licence_waiver",
            "licence_cleared", "collected_on", "notes", "format", "options", "item_count",
            "created_by", "created_at",
        ]  # fmt: skip

    def get_item_count(self, source: Source) -> int:
        count = getattr(source, "item_count", None)
        return source.items.count() if count is None else count


class RejectionSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line, element or sentence number, per format.")
    code = serializers.CharField()
    reason = serializers.CharField()


class ImportJobSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    progress_percent = serializers.IntegerField(read_only=True)
    is_finished = serializers.BooleanField(read_only=True)
    rejections = RejectionSerializer(many=True, read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id", "project", "source", "file_name", "file_size", "status", "is_finished",
            "progress_percent", "bytes_read", "rows_read", "items_created", "duplicates",
            "rejected", "rejections", "error", "error_line", "created_by", "created_at",
            "started_at", "finished_at",
        ]  # fmt: skip


class SourceCreatedSerializer(serializers.Serializer):
    source = SourceSerializer()
    import_job = ImportJobSerializer()


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = [
            "id", "source", "import_job", "position", "external_id", "text", "raw_text",
            "text_hash", "metadata", "weak_labels", "is_active", "dropped_by", "created_at",
        ]  # fmt: skip


# --- input ------------------------------------------------------------------------------------


class SourceCreateSerializer(serializers.Serializer):
    """Multipart: the file, its provenance, and the parser options the format reads."""

    file = serializers.FileField(allow_empty_file=True, use_url=False)
    name = serializers.CharField(max_length=200)
    format = serializers.ChoiceField(choices=Source.Format.choices)
    origin_url = serializers.URLField(max_length=1000, required=False, allow_blank=True)
    licence = serializers.ChoiceField(choices=Source.Licence.choices, required=False)
    licence_text = serializers.CharField(required=False, allow_blank=True)
    collected_on = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    text_field = serializers.CharField(required=False, help_text="CSV/TSV column or JSON key.")
    id_field = serializers.CharField(required=False)
    metadata_fields = serializers.CharField(
        required=False, help_text="Comma-separated columns/keys to keep (default: all others)."
    )
    delimiter = serializers.CharField(required=False, max_length=3)
    quoting = serializers.BooleanField(required=False, default=None, allow_null=True)
    title = serializers.CharField(required=False, help_text="Wikitext: the article's title.")
    language = serializers.ChoiceField(choices=services.LANGUAGES, required=False)
    min_words = serializers.IntegerField(required=False, min_value=0)

    OPTION_FIELDS = (
        "text_field", "id_field", "metadata_fields", "delimiter", "quoting", "title",
        "language", "min_words",
    )  # fmt: skip

    def service_kwargs(self) -> dict:
        data = dict(self.validated_data)
        options = {k: data.pop(k) for k in self.OPTION_FIELDS if data.get(k) is not None}
        for k in self.OPTION_FIELDS:
            data.pop(k, None)
        data.pop("file")
        return {**data, "options": options}


class WaiverSerializer(serializers.Serializer):
    reason = serializers.CharField()


class ItemFilterSerializer(serializers.Serializer):
    source = serializers.IntegerField(required=False)
    weak_label = serializers.CharField(required=False, default="")
    q = serializers.CharField(required=False, default="")


# --- views ------------------------------------------------------------------------------------


class SourceListCreate(APIView):
    """The project's sources; POST a file with its provenance to add a source and import it."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]
    parser_classes = [MultiPartParser]

    @extend_schema(responses=SourceSerializer(many=True))
    def get(self, request, project_id: int):
        sources = selectors.source_list(self.project)
        return Response(SourceSerializer(sources, many=True).data)

    @extend_schema(request=SourceCreateSerializer, responses={201: SourceCreatedSerializer})
    def post(self, request, project_id: int):
        incoming = SourceCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        source, job = services.source_create_with_upload(
            project=self.project,
            by=request.user,
            uploaded_file=incoming.validated_data["file"],
            **incoming.service_kwargs(),
        )
        job.refresh_from_db()  # without a broker the import has already run
        body = SourceCreatedSerializer({"source": source, "import_job": job}).data
        return Response(body, status=status.HTTP_201_CREATED)


class SourceDetail(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=SourceSerializer)
    def get(self, request, source_id: int):
        source, _ = selectors.source_for_member(request.user, source_id)
        return Response(SourceSerializer(source).data)


class SourceWaiver(APIView):
    """A manager accepts a source whose licence is unknown, with the reason."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=WaiverSerializer, responses=SourceSerializer)
    def post(self, request, source_id: int):
        source, _ = selectors.source_for_member(request.user, source_id)
        incoming = WaiverSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.source_waive_licence(
            source=source, by=request.user, reason=incoming.validated_data["reason"]
        )
        return Response(SourceSerializer(source).data)


class ImportJobDetail(APIView):
    """An import's status and progress while it runs, and its report once finished."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=ImportJobSerializer)
    def get(self, request, job_id: int):
        job, _ = selectors.import_job_for_member(request.user, job_id)
        return Response(ImportJobSerializer(job).data)


class ItemList(generics.ListAPIView):
    """The project's items in import order; filter by source, weak label or text."""

    serializer_class = ItemSerializer
    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    def get_queryset(self):
        filters = ItemFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.item_list(self.project, **filters.validated_data)

    @extend_schema(
        parameters=[
            OpenApiParameter("source", int, description="Only items of this source id."),
            OpenApiParameter("weak_label", str, description="Only items with this weak label."),
            OpenApiParameter("q", str, description="Text contains (case-insensitive)."),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("projects/<int:project_id>/sources/", SourceListCreate.as_view(), name="api_sources"),
    path("sources/<int:source_id>/", SourceDetail.as_view(), name="api_source"),
    path("sources/<int:source_id>/waiver/", SourceWaiver.as_view(), name="api_source_waiver"),
    path("import-jobs/<int:job_id>/", ImportJobDetail.as_view(), name="api_import_job"),
    path("projects/<int:project_id>/items/", ItemList.as_view(), name="api_items"),
]
