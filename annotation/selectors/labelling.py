"""Reads for labelling: batches, leases and annotations, filtered to what the user may see."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from annotation.models import Annotation, Batch, BatchItem, Label, Lease
from dmops.models import Membership, Project
from dmops.selectors import project_for_member


def batch_list(project: Project) -> QuerySet[Batch]:
    """The project's batches with their item counts."""
    return (
        Batch.objects.filter(project=project)
        .select_related("schema_version")
        .annotate(
            item_count=Count("batch_items"),
            complete_count=Count("batch_items", filter=Q(batch_items__is_complete=True)),
        )
        .order_by("-priority", "pk")
    )


def batch_get(project: Project, batch_id: int) -> Batch:
    batch = batch_list(project).filter(pk=batch_id).first()
    if batch is None:
        raise Http404("No such batch.")
    return batch


def lease_detail(lease_id: int) -> Lease:
    """A lease with everything the labelling screen shows: item, batch, schema and labels."""
    return (
        Lease.objects.select_related("batch_item__item", "batch_item__batch__schema_version")
        .prefetch_related("batch_item__batch__schema_version__labels")
        .get(pk=lease_id)
    )


def schema_labels(lease: Lease) -> list[Label]:
    schema = lease.batch_item.batch.schema_version
    return list(schema.labels.all()) if schema else []


def lease_for_member(user, lease_id: int) -> Lease:
    """The lease if it is ``user``'s: 404 if it does not exist, 403 for anyone else."""
    lease = Lease.objects.select_related("batch_item__batch").filter(pk=lease_id).first()
    if lease is None:
        raise Http404("No such lease.")
    project_for_member(user, lease.batch_item.batch.project_id)
    if lease.annotator_id != user.pk:
        raise PermissionDenied("This lease is another annotator's.")
    return lease


def lease_on_item(user, lease_id: int, batch_item: BatchItem) -> Lease:
    """``user``'s lease on ``batch_item``, whose project membership the caller has checked:
    404 if it does not exist, 403 if it is someone else's, 400 if it is for another item."""
    lease = Lease.objects.filter(pk=lease_id).first()
    if lease is None:
        raise Http404("No such lease.")
    if lease.annotator_id != user.pk:
        raise PermissionDenied("This lease is another annotator's.")
    if lease.batch_item_id != batch_item.pk:
        raise ValidationError({"lease": "This lease is for another item."})
    return lease


def batch_item_for_member(user, batch_item_id: int) -> tuple[BatchItem, Project, str]:
    """The batch item, its project and the user's role; 404 / 403 like the project."""
    batch_item = (
        BatchItem.objects.select_related("batch__schema_version", "item")
        .filter(pk=batch_item_id)
        .first()
    )
    if batch_item is None:
        raise Http404("No such item in any batch.")
    project, role = project_for_member(user, batch_item.batch.project_id)
    return batch_item, project, role


def annotation_list(*, user, role: str, batch_item: BatchItem) -> QuerySet[Annotation]:
    """Annotations on a batch item; annotators see only their own."""
    annotations = Annotation.objects.filter(batch_item=batch_item).select_related("annotator")
    if role == Membership.Role.ANNOTATOR:
        annotations = annotations.filter(annotator=user)
    return annotations.order_by("created_at", "pk")
