"""Reads of schema versions and labels, for members of the project only."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404

from annotation.gates import final_schema
from annotation.models import Label, SchemaVersion
from dmops.models import Project
from dmops.selectors import project_for_member


def _versions() -> QuerySet[SchemaVersion]:
    return SchemaVersion.objects.select_related("created_by", "finalised_by").prefetch_related(
        Prefetch("labels", queryset=Label.objects.order_by("order", "pk"))
    )


def schema_versions(project: Project) -> QuerySet[SchemaVersion]:
    """Every version of the project's schema, newest first, with its label count."""
    return (
        SchemaVersion.objects.filter(project=project)
        .select_related("created_by", "finalised_by")
        .annotate(label_count=Count("labels"))
        .order_by("-number")
    )


def schema_version(project: Project, number: int | None = None) -> SchemaVersion | None:
    """Version *number* of the project's schema with its labels; the latest if no number.
    ``None`` when the project has no schema yet; 404 for a number that does not exist."""
    versions = _versions().filter(project=project)
    if number is None:
        return versions.order_by("-number").first()
    version = versions.filter(number=number).first()
    if version is None:
        raise Http404("No such schema version.")
    return version


def schema_version_for_member(user, version_id: int) -> tuple[SchemaVersion, str]:
    """A version by id and the user's role on its project: 404 if missing, 403 if not a member."""
    version = _versions().select_related("project").filter(pk=version_id).first()
    if version is None:
        raise Http404("No such schema version.")
    _, role = project_for_member(user, version.project_id)
    return version, role


def label_in_version(version: SchemaVersion, label_id: int) -> Label:
    label = Label.objects.filter(schema_version=version, pk=label_id).first()
    if label is None:
        raise Http404("No such label in this schema version.")
    return label


def schema_for_guideline(project: Project) -> SchemaVersion | None:
    """The schema a guideline must cover: the latest final version, else the latest draft."""
    final = final_schema(project)
    if final is not None:
        return _versions().get(pk=final.pk)
    return schema_version(project)


def labels_by_category(labels: Iterable[Label]) -> list[tuple[str, list[Label]]]:
    """Labels grouped by category in first-seen order; uncategorised ones under ""."""
    groups: dict[str, list[Label]] = {}
    for label in labels:
        groups.setdefault(label.category, []).append(label)
    return list(groups.items())
