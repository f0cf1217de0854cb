"""REST endpoints for step 5 guideline versions: publish, read (Markdown and safe HTML), diff."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import markdown
from annotation.models import GuidelineVersion
from annotation.selectors import guideline as selectors
from annotation.services import guideline as services
from dmops.api import IsProjectManagerOrReadOnly, IsProjectMember
from dmops.authentication import TokenAuthentication


class AuthMixin:
    # Token first, so an anonymous request is told 401 (with WWW-Authenticate), not 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]


class GuidelineVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = GuidelineVersion
        fields = ["id", "project", "number", "change_summary", "created_by", "created_at"]


class GuidelineVersionDetailSerializer(GuidelineVersionSerializer):
    body = serializers.CharField(help_text="The Markdown as written.")
    html = serializers.SerializerMethodField(help_text="Rendered and sanitised HTML.")
    missing_labels = serializers.SerializerMethodField(
        help_text="Labels of the final (else latest) schema the body never mentions."
    )

    class Meta(GuidelineVersionSerializer.Meta):
        fields = [*GuidelineVersionSerializer.Meta.fields, "body", "html", "missing_labels"]

    def get_html(self, version: GuidelineVersion) -> str:
        return markdown.render_markdown(version.body)

    def get_missing_labels(self, version: GuidelineVersion) -> list[str]:
        return selectors.guideline_coverage(version.project, version.body).missing


class GuidelinePublishSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    change_summary = serializers.CharField(allow_blank=True)


class DiffRowSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["equal", "replace", "delete", "insert"])
    left_no = serializers.IntegerField(allow_null=True)
    left = serializers.CharField(allow_null=True)
    right_no = serializers.IntegerField(allow_null=True)
    right = serializers.CharField(allow_null=True)


class GuidelineDiffSerializer(serializers.Serializer):
    a = serializers.IntegerField(help_text="Version number on the left.")
    b = serializers.IntegerField(help_text="Version number on the right.")
    rows = DiffRowSerializer(many=True)
    unified = serializers.CharField(help_text="The same diff as a unified diff.")


class DiffQuerySerializer(serializers.Serializer):
    a = serializers.IntegerField(min_value=1)
    b = serializers.IntegerField(min_value=1)


MEMBER = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]


class GuidelineVersionListCreate(AuthMixin, generics.ListCreateAPIView):
    """Published versions, newest first (the first is current). POST publishes the next one:
    a change summary is required and an unchanged body is refused."""

    permission_classes = MEMBER

    def get_serializer_class(self):
        if self.request.method == "POST":
            return GuidelinePublishSerializer
        return GuidelineVersionSerializer

    def get_queryset(self):
        return selectors.guideline_versions(self.project)

    @extend_schema(
        request=GuidelinePublishSerializer, responses={201: GuidelineVersionDetailSerializer}
    )
    def post(self, request, *args, **kwargs):
        incoming = GuidelinePublishSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        version = services.guideline_publish(
            project=self.project, by=request.user, **incoming.validated_data
        )
        return Response(GuidelineVersionDetailSerializer(version).data, status=201)


class GuidelineVersionDetail(AuthMixin, APIView):
    @extend_schema(responses=GuidelineVersionDetailSerializer)
    def get(self, request, pk: int):
        version, _ = selectors.guideline_version_for_member(request.user, pk)
        return Response(GuidelineVersionDetailSerializer(version).data)


class GuidelineDiff(AuthMixin, APIView):
    """Two versions of the project's guideline, as side-by-side rows and a unified diff."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    @extend_schema(
        parameters=[
            OpenApiParameter("a", int, required=True, description="Left version number"),
            OpenApiParameter("b", int, required=True, description="Right version number"),
        ],
        responses=GuidelineDiffSerializer,
    )
    def get(self, request, project_id: int):
        query = DiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        a = selectors.guideline_version(self.project, query.validated_data["a"])
        b = selectors.guideline_version(self.project, query.validated_data["b"])
        data = {
            "a": a.number,
            "b": b.number,
            "rows": selectors.guideline_diff(a, b),
            "unified": selectors.guideline_unified_diff(a, b),
        }
        return Response(GuidelineDiffSerializer(data).data)


urlpatterns = [
    path(
        "projects/<int:project_id>/guideline-versions/",
        GuidelineVersionListCreate.as_view(),
        name="api_guideline_versions",
    ),
    path(
        "projects/<int:project_id>/guideline-versions/diff/",
        GuidelineDiff.as_view(),
        name="api_guideline_diff",
    ),
    path(
        "guideline-versions/<int:pk>/",
        GuidelineVersionDetail.as_view(),
        name="api_guideline_version",
    ),
]
