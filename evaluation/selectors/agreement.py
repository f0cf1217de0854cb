"""Reads for agreement: judgement matrices (one query each), reports as each role may see them,
the pilot's history and the step 9 gate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from annotation.models import Annotation, Batch, BatchItem, GuidelineVersion, SchemaVersion
from dmops.models import Membership, Project
from dmops.steps import CheckResult
from evaluation.agreement import MISSING, reliability_matrix
from evaluation.models import RELIABLE_ALPHA, AgreementReport, QualitySettings

BINARY_CATEGORIES = ["yes", "no", "unsure"]
PAIRWISE_CATEGORIES = ["a", "b", "tie"]
MULTI_LABEL_MESSAGE = (
    "Agreement is not computed for multi-label schemas: an answer is a set of labels, which "
    "nominal coefficients cannot compare. Review disagreements item by item instead."
)
SEES_EVERYTHING = (Membership.Role.MANAGER, Membership.Role.REVIEWER)


def quality_settings_for(project: Project) -> QualitySettings:
    """The project's settings, or unsaved defaults when a manager has set none."""
    return QualitySettings.objects.filter(project=project).first() or QualitySettings(
        project=project
    )


def categories_for(schema: SchemaVersion | None) -> list[str] | None:
    """Category names in code order for a schema; None when agreement does not apply."""
    if schema is None:
        return None
    if schema.task_type == SchemaVersion.TaskType.BINARY:
        return list(BINARY_CATEGORIES)
    if schema.task_type == SchemaVersion.TaskType.PAIRWISE:
        return list(PAIRWISE_CATEGORIES)
    if schema.task_type == SchemaVersion.TaskType.SINGLE:
        return list(schema.labels.order_by("order", "pk").values_list("key", flat=True))
    return None


def current_schema(project: Project) -> SchemaVersion | None:
    return SchemaVersion.objects.filter(project=project, is_final=True).order_by("-number").first()


@dataclass
class Judgements:
    """A reliability matrix with the database keys of its rows and columns."""

    matrix: np.ndarray
    item_ids: np.ndarray
    annotator_ids: np.ndarray
    categories: list[str] = field(default_factory=list)

    def row_of(self, item_id: int) -> int | None:
        row = int(np.searchsorted(self.item_ids, item_id))
        if row < len(self.item_ids) and self.item_ids[row] == item_id:
            return row
        return None


def answer_key(answer: Any) -> str:
    """A hashable, order-free key for any answer (a label key, or a set of them)."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, list):
        return json.dumps(sorted(answer))
    return json.dumps(answer, sort_keys=True)


def judgement_matrix(
    annotations: QuerySet[Annotation], categories: list[str] | None = None
) -> Judgements:
    """Build the reliability matrix from ONE query of (item, annotator, answer).

    With ``categories`` answers are coded by position in it (answers outside it, e.g. of an
    older schema, are left out); without, every distinct answer is its own category. When an
    annotator judged an item more than once (re-annotation) the latest judgement counts.
    """
    rows = list(
        annotations.order_by("created_at", "pk").values_list("item_id", "annotator_id", "answer")
    )
    if categories is None:
        keys = sorted({answer_key(answer) for _, _, answer in rows})
        categories = keys
    code = {name: i for i, name in enumerate(categories)}
    codes = np.fromiter(
        (code.get(answer_key(answer), MISSING) for _, _, answer in rows),
        dtype=np.int64,
        count=len(rows),
    )
    items = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    annotators = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    matrix, item_ids, annotator_ids = reliability_matrix(
        items, annotators, codes, duplicates="last"
    )
    return Judgements(matrix, item_ids, annotator_ids, list(categories))


def batch_is_complete(batch: Batch) -> bool:
    """Every batch item is complete (dropped items do not hold a batch up)."""
    items = BatchItem.objects.filter(batch=batch)
    return items.exists() and not items.filter(is_complete=False, is_dropped=False).exists()


def can_see_reports(role: str) -> bool:
    return role in SEES_EVERYTHING


def report_list(project: Project, role: str) -> QuerySet[AgreementReport]:
    """The project's reports; in blind mode annotators see only those of closed batches."""
    reports = AgreementReport.objects.filter(project=project).select_related(
        "batch", "guideline_version"
    )
    if not can_see_reports(role) and quality_settings_for(project).blind_mode:
        reports = reports.filter(batch__is_open=False)
    return reports.order_by("-batch__created_at", "-batch_id")


def report_for_member(project: Project, role: str, report_id: int) -> AgreementReport:
    report = (
        AgreementReport.objects.select_related("batch", "guideline_version", "schema_version")
        .filter(project=project, pk=report_id)
        .first()
    )
    if report is None:
        raise Http404("No such agreement report.")
    blind = quality_settings_for(project).blind_mode
    if not can_see_reports(role) and blind and report.batch.is_open:
        raise PermissionDenied("Reports are hidden from annotators until the batch is closed.")
    return report


def batches_for_reports(project: Project) -> QuerySet[Batch]:
    """Batches agreement can be measured on (overlap > 1), with their report if any."""
    reported = AgreementReport.objects.filter(batch=OuterRef("pk"))
    return (
        Batch.objects.filter(project=project, overlap__gt=1)
        .annotate(has_report=Exists(reported))
        .order_by("-created_at", "-pk")
    )


def pilot_batches(project: Project) -> QuerySet[Batch]:
    return Batch.objects.filter(project=project, kind=Batch.Kind.PILOT).order_by("created_at", "pk")


def pilot_history(project: Project) -> list[AgreementReport]:
    """Completed pilot reports in the order the pilots were run: agreement version by version."""
    return list(
        AgreementReport.objects.filter(
            project=project, batch__kind=Batch.Kind.PILOT, status=AgreementReport.Status.DONE
        )
        .select_related("batch", "guideline_version")
        .order_by("batch__created_at", "batch_id")
    )


def latest_pilot_report(project: Project) -> AgreementReport | None:
    history = pilot_history(project)
    return history[-1] if history else None


def pilot_gate(project: Project) -> CheckResult:
    """Step 9: the latest completed pilot reaches the alpha threshold (the one set now), and it
    was labelled under one guideline version that is still current or has since been revised.

    A failing pilot is never rescued by a guideline revision: the revision needs a new pilot,
    and until that pilot is complete the latest completed one (the failing one) decides.
    """
    threshold = quality_settings_for(project).alpha_threshold
    report = latest_pilot_report(project)
    if report is None:
        return CheckResult(False, "No pilot has been completed and reported yet.")
    name = report.batch.name
    if report.guideline_version is None:
        return CheckResult(False, f"{name} was labelled before any guideline was published.")
    current = GuidelineVersion.objects.filter(project=project).order_by("-number").first()
    used = report.guideline_version.number
    revised = current is not None and current.number > used
    if report.mixed_guidelines:
        return CheckResult(
            False,
            f"{name} was labelled under more than one guideline version; "
            f"run a new pilot under v{current.number if current else used}.",
        )
    if report.alpha is None:
        why = report.message or "alpha is undefined for it"
        return CheckResult(False, f"{name}: no agreement figure ({why}).")
    figure = f"{name}: α = {report.alpha:.3f}"
    if report.alpha < threshold:
        then = (
            f" Guideline revised to v{current.number} since: run a new pilot under it."
            if revised
            else " Revise the guideline where annotators disagreed, then run a new pilot."
        )
        return CheckResult(False, f"{figure} < {threshold:.3f} (guideline v{used}).{then}")
    since = f", revised since to v{current.number}" if revised else ""
    reliable = " — reliable" if report.alpha >= RELIABLE_ALPHA else ""
    return CheckResult(
        True, f"{figure} ≥ {threshold:.3f}{reliable}, labelled under guideline v{used}{since}."
    )


def pilot_batches_unreported() -> QuerySet[Batch]:
    """Pilot batches of every project that have no agreement report yet."""
    reported = AgreementReport.objects.filter(batch=OuterRef("pk"))
    return Batch.objects.filter(kind=Batch.Kind.PILOT).filter(~Exists(reported)).order_by("pk")
