"""Step 9 writes: agreement reports (requested, claimed, computed by a Celery job), the quality
settings, and opening the main batches once the pilot passes."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from annotation.models import Annotation, Batch, GuidelineVersion, Item
from annotation.services import pilot as pilot_services
from dmops.errors import DomainError
from dmops.models import Project
from evaluation.agreement import agreement_report
from evaluation.agreement.multilabel import multilabel_report
from evaluation.models import AgreementReport, QualitySettings
from evaluation.selectors import agreement as selectors

logger = logging.getLogger(__name__)

N_RESAMPLES = 1000
SETTINGS_FIELDS = (
    "alpha_threshold",
    "gold_accuracy_min",
    "low_confidence_threshold",
    "spot_check_percent",
    "acceptance_threshold",
    "blind_mode",
)


def _require_manager(project: Project, user, action: str) -> None:
    if not project.is_manager(user):
        raise PermissionDenied(f"Only a project manager can {action}.")


@transaction.atomic
def quality_settings_update(*, project: Project, by, **fields: Any) -> QualitySettings:
    """A manager sets the project's quality thresholds. Shares lie in [0, 1], alpha in
    [-1, 1], the spot-check percentage in [0, 100]."""
    _require_manager(project, by, "set quality thresholds")
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise DomainError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    settings, _ = QualitySettings.objects.get_or_create(project=project)
    errors = {}
    for name, value in fields.items():
        if name == "blind_mode":
            settings.blind_mode = bool(value)
            continue
        value = float(value)
        low, high = {"alpha_threshold": (-1, 1), "spot_check_percent": (0, 100)}.get(name, (0, 1))
        if not low <= value <= high:
            errors[name] = f"Must lie between {low} and {high}."
        setattr(settings, name, value)
    if errors:
        raise DomainError(errors)
    settings.updated_by = by
    settings.save()
    return settings


def _enqueue(report: AgreementReport) -> None:
    from evaluation.celery_tasks import compute_agreement_report

    transaction.on_commit(lambda: compute_agreement_report.delay(report.pk))


@transaction.atomic
def agreement_report_request(*, batch: Batch, by) -> AgreementReport:
    """A manager asks for (or refreshes) the agreement report of a batch with overlap > 1; a
    Celery job computes it after commit. One report per batch: a refresh overwrites it."""
    _require_manager(batch.project, by, "run agreement reports")
    if batch.overlap < 2:
        raise DomainError("Agreement needs a batch where each item is labelled more than once.")
    report, _ = AgreementReport.objects.update_or_create(
        batch=batch,
        defaults={
            "project": batch.project,
            "status": AgreementReport.Status.PENDING,
            "requested_by": by,
        },
    )
    _enqueue(report)
    return report


def agreement_reports_sweep() -> int:
    """Request the report of every complete pilot that has none yet (a periodic job: the
    labelling services know nothing of evaluation, so nothing else notices a pilot finish)."""
    pilots = selectors.pilot_batches_unreported()
    queued = 0
    for batch in pilots:
        if not selectors.batch_is_complete(batch):
            continue
        with transaction.atomic():
            report, created = AgreementReport.objects.get_or_create(
                batch=batch, defaults={"project_id": batch.project_id}
            )
            if created:
                _enqueue(report)
                queued += 1
    return queued


def agreement_report_claim(*, report_id: int) -> bool:
    """Move a waiting report to computing; False if it is not waiting (a repeated job)."""
    claimed = AgreementReport.objects.filter(
        pk=report_id, status=AgreementReport.Status.PENDING
    ).update(status=AgreementReport.Status.RUNNING)
    return claimed == 1


def _guideline_used(annotations) -> tuple[GuidelineVersion | None, bool]:
    ids = set(annotations.order_by().values_list("guideline_version_id", flat=True).distinct())
    versions = GuidelineVersion.objects.filter(pk__in=[i for i in ids if i is not None])
    newest = versions.order_by("-number").first()
    return newest, len(ids) > 1


def _shown(answer_key: str, multi: bool) -> str:
    if not multi:
        return answer_key
    return ", ".join(sorted(selectors.answer_set(answer_key))) or "(none)"


def _disagreement_detail(report: dict, j: selectors.Judgements, usernames: dict) -> list[dict]:
    """Replace the report's disagreement row indices by each item's id, text and answers."""
    rows = report["disagreement"]["items"]
    multi = bool(report.get("multi_label"))
    ids = [int(j.item_ids[r]) for r in rows]
    texts = dict(Item.objects.filter(pk__in=ids).values_list("pk", "text"))
    detail = []
    for row, item_id in zip(rows, ids, strict=True):
        answers = [
            {
                "annotator": usernames.get(int(j.annotator_ids[col]), "?"),
                "answer": _shown(j.categories[c], multi),
            }
            for col, c in enumerate(j.matrix[row].tolist())
            if c >= 0
        ]
        detail.append({"item_id": item_id, "text": texts.get(item_id, ""), "answers": answers})
    return detail


def _figures(annotations, schema) -> tuple[dict[str, Any], selectors.Judgements | None]:
    """The report's figures for the schema's kind of answer, and the matrix they came from."""
    categories = selectors.categories_for(schema)
    if categories is not None:
        j = selectors.judgement_matrix(annotations, categories)
        level, values = selectors.scale_for(schema)
        results = agreement_report(
            j.matrix,
            categories,
            n_resamples=N_RESAMPLES,
            seed=0,
            scale_level=level,
            values=values,
        )
        return results, j
    labels = selectors.multi_labels_for(schema)
    if labels is None:
        return {}, None
    # Every distinct label set is one code; per-label and set-distance figures come from it.
    j = selectors.judgement_matrix(annotations)
    sets = [selectors.answer_set(key) for key in j.categories]
    return multilabel_report(j.matrix, sets, labels, n_resamples=N_RESAMPLES, seed=0), j


def _gate_alpha(results: dict[str, Any]) -> dict[str, Any]:
    """The alpha the gate reads: at the schema's level when its labels are ordered (the
    nominal figure would count a near miss on a rating scale as a full disagreement), else
    nominal; for multi-label answers, alpha with the MASI set distance."""
    return results.get("krippendorff_alpha_scale") or results.get("krippendorff_alpha") or {}


def agreement_report_compute(*, report_id: int) -> AgreementReport:
    """Compute every figure of the report from the batch's Annotation rows and store them.

    The matrix comes from one query (reliability_matrix); the figures are
    ``evaluation.agreement.agreement_report`` (or ``multilabel_report`` for set answers) with a
    1 000-resample item bootstrap (seed 0, so a recomputation on the same judgements gives the
    same numbers). ``alpha`` is the figure the gate reads (see ``_gate_alpha``).
    """
    report = AgreementReport.objects.select_related("batch__schema_version").get(pk=report_id)
    batch = report.batch
    annotations = Annotation.objects.filter(batch_item__batch=batch)
    report.schema_version = batch.schema_version
    report.guideline_version, report.mixed_guidelines = _guideline_used(annotations)
    report.threshold = selectors.quality_settings_for(batch.project).alpha_threshold
    results, j = _figures(annotations, batch.schema_version)
    message = ""
    if j is None:
        message = "Agreement needs a schema: this batch has none."
    else:
        users = get_user_model().objects.filter(pk__in=j.annotator_ids.tolist())
        usernames = dict(users.values_list("pk", "username"))
        results["annotators"] = [
            {"id": int(a), "username": usernames.get(int(a), "?")} for a in j.annotator_ids
        ]
        results["item_ids"] = [int(i) for i in j.item_ids]
        results["disagreement"]["items"] = _disagreement_detail(results, j, usernames)
        alpha = _gate_alpha(results)
        if alpha["value"] is None:
            message = alpha["reason"] or ""
    report.results = results
    report.message = message
    report.alpha = _gate_alpha(results).get("value")
    ac1 = results.get("gwet_ac1") or (results.get("label_mean") or {}).get("gwet_ac1") or {}
    report.gwet_ac1 = ac1.get("value")
    report.percent_agreement = (results.get("percent_agreement") or {}).get("value")
    report.n_items = results.get("n_items", 0)
    report.n_annotators = results.get("n_annotators", 0)
    report.n_judgements = results.get("n_judgements", 0)
    report.status = AgreementReport.Status.DONE
    report.computed_at = timezone.now()
    report.save()
    return report


def agreement_report_fail(*, report_id: int, error: str) -> None:
    AgreementReport.objects.filter(pk=report_id).update(
        status=AgreementReport.Status.FAILED, message=error[:2000]
    )


@transaction.atomic
def main_batches_open(*, project: Project, by) -> list[Batch]:
    """A manager opens the main batches. Refused until the step 9 gate (pilot agreement)
    passes; the gate check itself stays free of side effects."""
    _require_manager(project, by, "open the main batches")
    result = selectors.pilot_gate(project)
    if not result.passed:
        raise DomainError(f"The pilot has not passed: {result.detail}")
    return pilot_services.batches_open_main(project=project, by=by)
