"""REST API for labelling: the queue (next item, submit, skip, release) and batch management."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import queue
from annotation.api._hot_json import JSONAnswers, json_response
from annotation.models import Annotation, Batch, Item, Label, Lease, SchemaVersion
from annotation.selectors import hot_path
from annotation.selectors import labelling as selectors
from annotation.services import labelling as services
from annotation.services import workbench as workbench_services
from dmops.api import IsProjectMember
from dmops.models import Membership, Project

KIND_HELP = " | ".join(Batch.Kind.values)


class IsProjectManager(permissions.BasePermission):
    """After IsProjectMember: the user manages the project, whatever the method."""

    message = "Only a project manager can do this."

    def has_permission(self, request, view) -> bool:
        return view.role == Membership.Role.MANAGER


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["key", "name", "description", "category", "hotkey", "question"]


class QuestionSerializer(serializers.ModelSerializer):
    schema_version = serializers.IntegerField(source="number")
    labels = LabelSerializer(many=True)

    class Meta:
        model = SchemaVersion
        fields = ["schema_version", "task_type", "question", "labels"]


class BatchBriefSerializer(serializers.ModelSerializer):
    # A plain string in responses: the choices are listed once, on BatchCreate, because other
    # components already have an enum called "kind".
    kind = serializers.CharField(read_only=True, help_text=KIND_HELP)

    class Meta:
        model = Batch
        fields = ["id", "name", "kind"]


class LeasedItemSerializer(serializers.Serializer):
    """What the labelling screen needs for one leased item."""

    lease_id = serializers.IntegerField(source="pk")
    expires_at = serializers.DateTimeField()
    batch_item_id = serializers.IntegerField(source="batch_item.pk")
    item_id = serializers.IntegerField(source="batch_item.item_id")
    text = serializers.CharField(source="batch_item.item.text")
    metadata = serializers.JSONField(source="batch_item.item.metadata")
    proposed_label = serializers.CharField(source="batch_item.proposed_label")
    batch = BatchBriefSerializer(source="batch_item.batch")
    question = QuestionSerializer(source="batch_item.batch.schema_version", allow_null=True)


class LeaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lease
        fields = ["id", "batch_item", "state", "returnable", "created_at", "expires_at"]


class AnnotationSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username")

    class Meta:
        model = Annotation
        fields = [
            "id",
            "batch_item",
            "item",
            "annotator",
            "answer",
            "schema_version",
            "guideline_version",
            "seconds_spent",
            "created_at",
        ]


class SubmitSerializer(serializers.Serializer):
    lease = serializers.IntegerField()
    answer = serializers.JSONField(
        help_text='binary: "yes" | "no" | "unsure"; single: a label key; multi: a list of keys'
    )
    seconds_spent = serializers.FloatField(min_value=0, default=0)


def _plain_number(value) -> bool:
    return type(value) in (int, float) and 0 <= value < 2**53  # not bool, NaN or infinity


def submission(data) -> dict | None:
    """A submit's body as SubmitSerializer validates it, without building one when the body is
    exactly what a client sends (an int lease, an answer, a plain non-negative number of
    seconds): every annotator submits once per judgement, and the serializer's copy of its
    fields cost more CPU than the statement that stores the answer. None: anything else, for
    SubmitSerializer to accept or refuse with its messages."""
    if type(data) is not dict or type(data.get("lease")) is not int:
        return None
    seconds = data.get("seconds_spent", 0)
    if data.get("answer") is None or not _plain_number(seconds):
        return None
    # Given, a number is read as a float; left out, the serializer's default (0) is kept.
    seconds = float(seconds) if "seconds_spent" in data else seconds
    return {"lease": data["lease"], "answer": data["answer"], "seconds_spent": seconds}


class BatchSerializer(serializers.ModelSerializer):
    item_count = serializers.IntegerField(read_only=True)
    complete_count = serializers.IntegerField(read_only=True)
    # A plain string in responses: the choices are listed once, on BatchCreate, because other
    # components already have an enum called "kind".
    kind = serializers.CharField(read_only=True, help_text=KIND_HELP)

    class Meta:
        model = Batch
        fields = [
            "id",
            "name",
            "kind",
            "overlap",
            "priority",
            "is_open",
            "skip_policy",
            "lease_ttl",
            "schema_version",
            "created_at",
            "item_count",
            "complete_count",
        ]
        read_only_fields = fields


class BatchCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Batch.Kind.choices, default=Batch.Kind.MAIN)
    overlap = serializers.IntegerField(min_value=1, max_value=100, default=1)
    priority = serializers.IntegerField(default=0)
    skip_policy = serializers.ChoiceField(
        choices=Batch.SkipPolicy.choices, default=Batch.SkipPolicy.REQUEUE_OTHERS
    )
    lease_ttl = serializers.IntegerField(min_value=1, default=1800)
    schema_version = serializers.IntegerField(required=False, allow_null=True)
    item_ids = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Items to put in the batch; all active items of the project when left out.",
    )
    open = serializers.BooleanField(default=False)


class NextItem(APIView):
    """Lease the next item to the caller (or renew the lease they hold); 204 when none is left."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONAnswers

    @extend_schema(responses={200: LeasedItemSerializer, 204: None})
    def get(self, request, project_id: int):
        # The queue checks membership (404 / 403, as IsProjectMember) in its first query, and
        # only needs the project's id for that.
        try:
            lease = queue.next_item(
                project=Project(pk=project_id), annotator=request.user, members_only=True
            )
        except Project.DoesNotExist as exc:
            raise Http404("No such project.") from exc
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        # Same fields as LeasedItemSerializer (pinned by a test), from what the queue read.
        return json_response(hot_path.leased_item(lease))


class ItemAnnotations(APIView):
    """GET the annotations on a batch item (annotators: their own); POST submits an answer
    with a lease. 409 when the lease expired and the item was completed by others."""

    # JSON only, like NextItem.
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    content_negotiation_class = JSONAnswers

    @extend_schema(responses=AnnotationSerializer(many=True))
    def get(self, request, batch_item_id: int):
        batch_item, _, role = selectors.batch_item_for_member(request.user, batch_item_id)
        annotations = selectors.annotation_list(user=request.user, role=role, batch_item=batch_item)
        return Response(AnnotationSerializer(annotations, many=True).data)

    @extend_schema(
        request=SubmitSerializer, responses={201: AnnotationSerializer, 409: None, 403: None}
    )
    def post(self, request, batch_item_id: int):
        data = submission(request.data)
        if data is None:
            incoming = SubmitSerializer(data=request.data)
            if not incoming.is_valid():
                # Membership is answered first (404 / 403), then the body (400).
                hot_path.SubmitAccess(request.user, batch_item_id, None).check_member()
                raise serializers.ValidationError(incoming.errors)
            data = incoming.validated_data
        try:
            # The service checks that the caller is a member holding this lease on this item
            # while it locks them; when it finds nothing, SubmitAccess says why, as a member
            # check and a lease check would (404 / 403 / 400).
            annotation = services.annotation_submit(
                lease=Lease(pk=data["lease"], batch_item_id=batch_item_id),
                by=request.user,
                answer=data["answer"],
                seconds_spent=data["seconds_spent"],
            )
        except (Lease.DoesNotExist, PermissionDenied) as exc:
            access = hot_path.SubmitAccess(request.user, batch_item_id, data["lease"])
            access.check_member()
            access.lease()
            if isinstance(exc, PermissionDenied):
                raise
            raise Http404("No such lease.") from exc
        except services.QueueConflict as exc:
            return Response({"detail": exc.messages}, status=status.HTTP_409_CONFLICT)
        # Same fields as AnnotationSerializer (pinned by a test), without building one.
        body = hot_path.submitted_annotation(annotation, request.user)
        return json_response(body, status=status.HTTP_201_CREATED)


class LeaseSkip(APIView):
    """Pass on the leased item; the batch's skip policy decides where it goes."""

    @extend_schema(request=None, responses={200: LeaseSerializer, 409: None})
    def post(self, request, lease_id: int):
        lease = selectors.lease_for_member(request.user, lease_id)
        try:
            lease = services.lease_skip(lease=lease, by=request.user)
        except services.QueueConflict as exc:
            return Response({"detail": exc.messages}, status=status.HTTP_409_CONFLICT)
        return Response(LeaseSerializer(lease).data)


class LeaseRelease(APIView):
    """Give the leased item back without judging it."""

    @extend_schema(request=None, responses={200: LeaseSerializer, 409: None})
    def post(self, request, lease_id: int):
        lease = selectors.lease_for_member(request.user, lease_id)
        try:
            lease = services.lease_release(lease=lease, by=request.user)
        except services.QueueConflict as exc:
            return Response({"detail": exc.messages}, status=status.HTTP_409_CONFLICT)
        return Response(LeaseSerializer(lease).data)


class BatchListCreate(APIView):
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManager]

    @extend_schema(responses=BatchSerializer(many=True))
    def get(self, request, project_id: int):
        return Response(BatchSerializer(selectors.batch_list(self.project), many=True).data)

    @extend_schema(request=BatchCreateSerializer, responses={201: BatchSerializer})
    def post(self, request, project_id: int):
        incoming = BatchCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        schema = None
        if data.get("schema_version") is not None:
            schema = SchemaVersion.objects.filter(
                project=self.project, pk=data["schema_version"]
            ).first()
            if schema is None:
                raise serializers.ValidationError({"schema_version": "No such schema version."})
        items = data.get("item_ids")
        batch = services.batch_create(
            project=self.project,
            by=request.user,
            name=data["name"],
            items=Item.objects.filter(project=self.project) if items is None else items,
            kind=data["kind"],
            overlap=data["overlap"],
            priority=data["priority"],
            skip_policy=data["skip_policy"],
            lease_ttl=data["lease_ttl"],
            schema_version=schema,
            is_open=False,
        )
        if data["open"]:
            services.batch_open(batch=batch, by=request.user)
        batch = selectors.batch_get(self.project, batch.pk)
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)


class BatchOpen(APIView):
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManager]
    is_open = True

    @extend_schema(request=None, responses=BatchSerializer)
    def post(self, request, project_id: int, batch_id: int):
        batch = selectors.batch_get(self.project, batch_id)
        if self.is_open:
            services.batch_open(batch=batch, by=request.user)
        else:
            services.batch_close(batch=batch, by=request.user)
        return Response(BatchSerializer(selectors.batch_get(self.project, batch_id)).data)


class BatchClose(BatchOpen):
    is_open = False


class UndoLast(APIView):
    """Reopen the caller's most recent answer in an open batch: the answer is deleted and the
    item is theirs again (it comes back first from next-item). 400 when there is nothing to
    undo or a reviewer already decided the item."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    @extend_schema(request=None, responses={200: LeasedItemSerializer, 400: None})
    def post(self, request, project_id: int):
        lease = workbench_services.annotation_undo_last(project=self.project, by=request.user)
        return Response(LeasedItemSerializer(selectors.lease_detail(lease.pk)).data)


urlpatterns = [
    path("projects/<int:project_id>/next-item/", NextItem.as_view(), name="api_next_item"),
    path("projects/<int:project_id>/batches/", BatchListCreate.as_view(), name="api_batches"),
    path(
        "projects/<int:project_id>/batches/<int:batch_id>/open/",
        BatchOpen.as_view(),
        name="api_batch_open",
    ),
    path(
        "projects/<int:project_id>/batches/<int:batch_id>/close/",
        BatchClose.as_view(),
        name="api_batch_close",
    ),
    path(
        "items/<int:batch_item_id>/annotations/",
        ItemAnnotations.as_view(),
        name="api_item_annotations",
    ),
    path("leases/<int:lease_id>/skip/", LeaseSkip.as_view(), name="api_lease_skip"),
    path("leases/<int:lease_id>/release/", LeaseRelease.as_view(), name="api_lease_release"),
    path("projects/<int:project_id>/undo/", UndoLast.as_view(), name="api_undo_last"),
]


class BatchUpdateSerializer(serializers.Serializer):
    priority = serializers.IntegerField(required=False)
    overlap = serializers.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        help_text="May be lowered only before any item of the batch was given out.",
    )


class BatchDetail(APIView):
    """GET one batch; PATCH (managers) its priority or overlap."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManager]

    @extend_schema(responses=BatchSerializer)
    def get(self, request, project_id: int, batch_id: int):
        return Response(BatchSerializer(selectors.batch_get(self.project, batch_id)).data)

    @extend_schema(request=BatchUpdateSerializer, responses=BatchSerializer)
    def patch(self, request, project_id: int, batch_id: int):
        incoming = BatchUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        batch = selectors.batch_get(self.project, batch_id)
        services.batch_update(batch=batch, by=request.user, **incoming.validated_data)
        return Response(BatchSerializer(selectors.batch_get(self.project, batch_id)).data)


urlpatterns += [
    path(
        "projects/<int:project_id>/batches/<int:batch_id>/",
        BatchDetail.as_view(),
        name="api_batch",
    ),
]
