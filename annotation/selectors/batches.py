"""Batch management reads: each batch of a project with its progress, and the item pools a
manager picks a new batch from."""

from __future__ import annotations

import random
from datetime import datetime

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from annotation.models import AnnotatorState, Batch, BatchItem, Item, QualificationRule
from annotation.queue import live_leases
from dmops.models import Membership, Project


def batch_progress(project: Project, *, now: datetime | None = None) -> QuerySet[Batch]:
    """The project's batches, highest priority first, each annotated with ``item_count``,
    ``complete_count``, ``dropped_count``, ``submitted_count`` (annotations in) and
    ``live_lease_count`` (items being worked on now). One query."""
    now = now or timezone.now()
    live = (
        live_leases(now)
        .filter(batch_item__batch=OuterRef("pk"))
        .order_by()
        .values("batch_item__batch")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Batch.objects.filter(project=project)
        .select_related("schema_version")
        .annotate(
            item_count=Count("batch_items"),
            complete_count=Count("batch_items", filter=Q(batch_items__is_complete=True)),
            dropped_count=Count("batch_items", filter=Q(batch_items__is_dropped=True)),
            submitted_count=Coalesce(Sum("batch_items__submitted_count"), 0),
            live_lease_count=Coalesce(Subquery(live, output_field=IntegerField()), 0),
        )
        .order_by("-priority", "pk")
    )


def batch_for_project(project: Project, batch_id: int) -> Batch:
    batch = batch_progress(project).filter(pk=batch_id).first()
    if batch is None:
        raise Http404("No such batch.")
    return batch


def items_not_in_kind(project: Project, kind: str) -> QuerySet[Item]:
    """Active items of the project that no batch of ``kind`` holds yet."""
    in_kind = BatchItem.objects.filter(
        item=OuterRef("pk"), batch__project=project, batch__kind=kind
    )
    return Item.objects.filter(project=project, is_active=True).exclude(Exists(in_kind))


def items_sample(project: Project, kind: str, size: int, rng: random.Random) -> list[int]:
    """Ids of ``size`` items drawn at random from the items no batch of ``kind`` holds yet.
    Only ids pass through Python, and only once."""
    ids = list(items_not_in_kind(project, kind).order_by("pk").values_list("pk", flat=True))
    return sorted(rng.sample(ids, min(size, len(ids))))


def every_annotator_overlap(project: Project) -> int:
    """The overlap that gives every item to every annotator who may work now: the qualified
    ones when the project has a qualification rule, else all of them; paused ones never."""
    annotators = Membership.objects.filter(project=project, role=Membership.Role.ANNOTATOR)
    states = AnnotatorState.objects.filter(project=project, user=OuterRef("user"))
    annotators = annotators.exclude(Exists(states.filter(paused=True)))
    if QualificationRule.objects.filter(project=project).exists():
        annotators = annotators.filter(Exists(states.filter(qualified_at__isnull=False)))
    return annotators.count()
