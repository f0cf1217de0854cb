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
from annotation.selectors.questions import my_questions
from dmops.models import Membership, Project
from dmops.steps import CheckResult
from evaluation.agreement import MISSING, reliability_matrix
from evaluation.models import RELIABLE_ALPHA, AgreementReport, QualitySettings

BINARY_CATEGORIES = ["yes", "no", "unsure"]
PAIRWISE_CATEGORIES = ["a", "b", "tie"]
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


def multi_labels_for(schema: SchemaVersion | None) -> list[str] | None:
    """Label keys of a multi-label schema in order (agreement per label); None otherwise."""
    if schema is None or schema.task_type != SchemaVersion.TaskType.MULTI:
        return None
    return list(schema.labels.order_by("order", "pk").values_list("key", flat=True))


def scale_for(schema: SchemaVersion | None) -> tuple[str | None, list[float] | None]:
    """The level of measurement of a single-label schema's ordered labels and, on an interval
    scale, each label's number in code order (None: their positions). (None, None) when the
    labels are unordered."""
    if schema is None or schema.task_type != SchemaVersion.TaskType.SINGLE:
        return None, None
    if schema.label_scale == SchemaVersion.LabelScale.NOMINAL:
        return None, None
    values = list(schema.labels.order_by("order", "pk").values_list("value", flat=True))
    if schema.label_scale != SchemaVersion.LabelScale.INTERVAL or None in values:
        return schema.label_scale, None
    return schema.label_scale, values


def answer_set(key: str) -> frozenset:
    """The label set behind a multi-label answer key (see :func:`answer_key`)."""
    if key.startswith("["):
        return frozenset(str(label) for label in json.loads(key))
    return frozenset([key])


def questions_on_items(project: Project, user, role: str, item_ids: list[int]) -> dict[int, list]:
    """Questions asked on each item, as the user may see them (managers and reviewers: all;
    annotators: their own and promoted ones), oldest first; one query."""
    by_item: dict[int, list] = {}
    questions = my_questions(project, user, role).filter(item_id__in=item_ids)
    for question in questions.order_by("created_at", "pk"):
        by_item.setdefault(question.item_id, []).append(question)
    return by_item


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


def pilot_history(project: Project, role: str | None = None) -> list[AgreementReport]:
    """Completed pilot reports in the order the pilots were run: agreement version by version.
    With a ``role``, what that member may see (blind mode hides open pilots from annotators);
    without, all of them (the gate)."""
    reports = AgreementReport.objects.filter(
        project=project, batch__kind=Batch.Kind.PILOT, status=AgreementReport.Status.DONE
    )
    if role is not None and not can_see_reports(role) and quality_settings_for(project).blind_mode:
        reports = reports.filter(batch__is_open=False)
    return list(
        reports.select_related("batch", "guideline_version").order_by(
            "batch__created_at", "batch_id"
        )
    )


def _figure(results: dict[str, Any], key: str) -> tuple[float | None, tuple[float, float] | None]:
    entry = results.get(key) or {}
    value, ci = entry.get("value"), entry.get("ci")
    interval = (ci["low"], ci["high"]) if ci and ci.get("low") is not None else None
    return value, interval


def pilot_history_rows(history: list[AgreementReport]) -> list[dict[str, Any]]:
    """One row per pilot: the gate's alpha and AC1 with their intervals (from the stored
    results, so nothing is recomputed)."""
    rows = []
    for n, report in enumerate(history, 1):
        results = report.results or {}
        alpha_key = "krippendorff_alpha_scale" if "krippendorff_alpha_scale" in results else None
        alpha, alpha_ci = _figure(results, alpha_key or "krippendorff_alpha")
        if results.get("multi_label"):
            ac1, ac1_ci = _figure(results.get("label_mean") or {}, "gwet_ac1")
        else:
            ac1, ac1_ci = _figure(results, "gwet_ac1")
        level = (results.get(alpha_key or "krippendorff_alpha") or {}).get("level", "nominal")
        guideline = report.guideline_version.number if report.guideline_version else None
        rows.append(
            {
                "n": n,
                "report": report,
                "guideline": guideline,
                "alpha": report.alpha if alpha is None else alpha,
                "alpha_ci": alpha_ci,
                "alpha_level": level,
                "ac1": report.gwet_ac1 if ac1 is None else ac1,
                "ac1_ci": ac1_ci,
            }
        )
    return rows


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
    results = report.results or {}
    gate_alpha = results.get("krippendorff_alpha_scale") or results.get("krippendorff_alpha") or {}
    level = gate_alpha.get("level") or "nominal"
    figure = f"{name}: α{'' if level == 'nominal' else f' ({level})'} = {report.alpha:.3f}"
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
