"""Reads for step 2: sources, their imports and the items they produced, for project members."""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, Count, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404

from annotation.models import ImportJob, Item, Source
from dmops.models import Project
from dmops.selectors import project_for_member


def source_list(project: Project) -> QuerySet[Source]:
    """The project's sources with ``item_count`` and their imports (newest first) prefetched."""
    jobs = ImportJob.objects.select_related("created_by").order_by("-created_at", "-pk")
    return (
        Source.objects.filter(project=project)
        .select_related("created_by")
        .annotate(item_count=Count("items"))
        .prefetch_related(Prefetch("imports", queryset=jobs))
        .order_by("created_at", "pk")
    )


def source_choices(project: Project) -> list[tuple[int, str]]:
    """(id, name) of the project's sources, for filter menus."""
    return list(Source.objects.filter(project=project).order_by("name").values_list("pk", "name"))


def import_job_list(project: Project) -> QuerySet[ImportJob]:
    """Every import of the project, newest first: the import history."""
    return (
        ImportJob.objects.filter(project=project)
        .select_related("source", "created_by")
        .order_by("-created_at", "-pk")
    )


def source_for_member(user, source_id: int) -> tuple[Source, str]:
    """A source and the user's role on its project: 404 if none, 403 for a non-member."""
    source = Source.objects.select_related("project", "created_by").filter(pk=source_id).first()
    if source is None:
        raise Http404("No such source.")
    _, role = project_for_member(user, source.project_id)
    return source, role


def import_job_for_member(user, job_id: int) -> tuple[ImportJob, str]:
    """An import job and the user's role on its project: 404 if none, 403 for a non-member."""
    job = (
        ImportJob.objects.select_related("project", "source", "created_by")
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        raise Http404("No such import.")
    _, role = project_for_member(user, job.project_id)
    return job, role


def item_list(
    project: Project,
    *,
    source: int | None = None,
    weak_label: str = "",
    q: str = "",
) -> QuerySet[Item]:
    """The project's items in import order, optionally from one source, carrying a weak label,
    or containing *q* (case-insensitive)."""
    items = Item.objects.filter(project=project).select_related("source")
    if source is not None:
        items = items.filter(source_id=source)
    if weak_label:
        items = _with_weak_label(items, weak_label)
    if q:
        items = items.filter(Q(text__icontains=q) | Q(external_id=q))
    return items.order_by("source_id", "position", "pk")


def _with_weak_label(items: QuerySet[Item], label: str) -> QuerySet[Item]:
    if connection.features.supports_json_field_contains:
        return items.filter(weak_labels__contains=[label])
    # SQLite has no JSON containment; json_each gives the same exact-element match.
    table = Item._meta.db_table
    has_label = RawSQL(
        f'EXISTS (SELECT 1 FROM json_each("{table}"."weak_labels") WHERE value = %s)',
        (label,),
        output_field=BooleanField(),
    )
    return items.alias(has_label=has_label).filter(has_label=True)
