"""REST endpoints for step 4 schema versions. Serializers check shapes; the services decide."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import wikisqe
from annotation.models import Label, SchemaVersion
from annotation.selectors import schema as selectors
from annotation.services import schema as services
from annotation.services import schema_presets as presets
from dmops.api import IsProjectManagerOrReadOnly, IsProjectMember
from dmops.authentication import TokenAuthentication


class AuthMixin:
    # Token first, so an anonymous request is told 401 (with WWW-Authenticate), not 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]


class IsSchemaVersionMember(permissions.BasePermission):
    """The user belongs to the project of the version in the URL (403; 404 if missing)."""

    message = "You are not a member of this project."

    def has_permission(self, request, view) -> bool:
        version, role = selectors.schema_version_for_member(request.user, view.kwargs["pk"])
        view.version, view.project, view.role = version, version.project, role
        return True


MEMBER = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]
VERSION_MEMBER = [permissions.IsAuthenticated, IsSchemaVersionMember, IsProjectManagerOrReadOnly]


class SchemaLabelSerializer(serializers.ModelSerializer):
    # Plain text fields: the slug, length and hotkey rules live in the service.
    key = serializers.CharField()
    hotkey = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    positive_examples = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False
    )
    negative_examples = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False
    )

    class Meta:
        model = Label
        fields = [
            "id",
            "key",
            "name",
            "description",
            "category",
            "hotkey",
            "question",
            "positive_examples",
            "negative_examples",
            "order",
            "value",
        ]
        read_only_fields = ["id", "order"]


class SchemaVersionSerializer(serializers.ModelSerializer):
    labels = SchemaLabelSerializer(many=True, required=False)
    is_frozen = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    finalised_by = serializers.CharField(
        source="finalised_by.username", default=None, read_only=True
    )

    class Meta:
        model = SchemaVersion
        fields = [
            "id",
            "project",
            "number",
            "task_type",
            "question",
            "note",
            "label_scale",
            "is_final",
            "is_frozen",
            "finalised_by",
            "finalised_at",
            "created_by",
            "created_at",
            "labels",
        ]
        read_only_fields = [
            "id",
            "project",
            "number",
            "is_final",
            "finalised_at",
            "created_at",
        ]

    def get_is_frozen(self, version: SchemaVersion) -> bool:
        return services.schema_version_is_frozen(version)


class WikisqePresetSerializer(serializers.Serializer):
    top_n = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=list(wikisqe.CATEGORIES)), required=False
    )
    labels = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text='WikiSQE label names, e.g. ["citation needed", "who?"]; not combined '
        "with top_n or categories.",
    )
    binary = serializers.BooleanField(default=True)


def _labels(data: dict) -> list[dict] | None:
    if "labels" not in data:
        return None
    return [dict(label) for label in data["labels"]]


class SchemaVersionListCreate(AuthMixin, generics.ListCreateAPIView):
    """List a project's schema versions, newest first; POST creates the next draft (optionally
    with its labels)."""

    serializer_class = SchemaVersionSerializer
    permission_classes = MEMBER

    def get_queryset(self):
        return selectors.schema_versions(self.project).prefetch_related("labels")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.schema_version_create(
            project=self.project,
            by=self.request.user,
            task_type=data["task_type"],
            question=data.get("question", ""),
            note=data.get("note", ""),
            label_scale=data.get("label_scale", SchemaVersion.LabelScale.NOMINAL),
            labels=_labels(data),
        )


class SchemaVersionDetail(AuthMixin, generics.RetrieveUpdateAPIView):
    """A version with its labels. PATCH changes a draft (``labels``, when given, replaces the
    whole set); a frozen version answers 400."""

    serializer_class = SchemaVersionSerializer
    permission_classes = VERSION_MEMBER
    http_method_names = ["get", "patch", "head", "options"]
    queryset = SchemaVersion.objects.none()  # the permission class loads the version

    def get_object(self):
        return self.version

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        labels = _labels(data)
        data.pop("labels", None)
        services.schema_version_update(
            version=self.version, by=self.request.user, labels=labels, **data
        )
        serializer.instance = selectors.schema_version(self.project, self.version.number)


class SchemaVersionFinalise(AuthMixin, APIView):
    """Mark a draft final; it is frozen from then on."""

    permission_classes = VERSION_MEMBER

    @extend_schema(request=None, responses=SchemaVersionSerializer)
    def post(self, request, pk: int):
        services.schema_version_finalise(version=self.version, by=request.user)
        version = selectors.schema_version(self.project, self.version.number)
        return Response(SchemaVersionSerializer(version).data)


class SchemaVersionNewFrom(AuthMixin, APIView):
    """Start a new draft copied from this version (how a frozen version is changed)."""

    permission_classes = VERSION_MEMBER

    @extend_schema(request=None, responses={201: SchemaVersionSerializer})
    def post(self, request, pk: int):
        copy = services.schema_version_new_from(version=self.version, by=request.user)
        version = selectors.schema_version(self.project, copy.number)
        return Response(SchemaVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class SchemaWikisqePreset(AuthMixin, APIView):
    """Create a draft from the WikiSQE taxonomy: all 153 labels, the top N by frequency, whole
    categories, or named labels; as binary verification each label gets its question."""

    permission_classes = MEMBER

    @extend_schema(request=WikisqePresetSerializer, responses={201: SchemaVersionSerializer})
    def post(self, request, project_id: int):
        incoming = WikisqePresetSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        created = presets.schema_apply_wikisqe(
            project=self.project,
            by=request.user,
            top_n=data.get("top_n"),
            categories=data.get("categories", []),
            names=data.get("labels", []),
            binary=data["binary"],
        )
        version = selectors.schema_version(self.project, created.number)
        return Response(SchemaVersionSerializer(version).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path(
        "projects/<int:project_id>/schema-versions/",
        SchemaVersionListCreate.as_view(),
        name="api_schema_versions",
    ),
    path(
        "projects/<int:project_id>/schema-versions/wikisqe/",
        SchemaWikisqePreset.as_view(),
        name="api_schema_wikisqe",
    ),
    path("schema-versions/<int:pk>/", SchemaVersionDetail.as_view(), name="api_schema_version"),
    path(
        "schema-versions/<int:pk>/finalise/",
        SchemaVersionFinalise.as_view(),
        name="api_schema_version_finalise",
    ),
    path(
        "schema-versions/<int:pk>/new-version/",
        SchemaVersionNewFrom.as_view(),
        name="api_schema_version_new",
    ),
]
