"""Ongoing quality writes: hidden gold answers, and aggregating judgements into final labels
(written through annotation's services, never over a reviewer's decision)."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction

from annotation.models import BatchItem
from annotation.services import final_labels
from annotation.services.labelling import answer_validate
from dmops.errors import DomainError
from dmops.models import Project
from evaluation.aggregation import dawid_skene, majority_vote
from evaluation.agreement import MISSING
from evaluation.models import AggregationRun, GoldAnswer
from evaluation.selectors import quality as selectors


def _require_manager(project: Project, user, action: str) -> None:
    if not project.is_manager(user):
        raise PermissionDenied(f"Only a project manager can {action}.")


@transaction.atomic
def gold_answer_set(*, batch_item: BatchItem, by, answer: Any) -> GoldAnswer:
    """A manager marks a batch item as hidden gold with its known answer, which must be a valid
    answer for the batch's schema. Annotators are never told which items are gold."""
    project = batch_item.batch.project
    _require_manager(project, by, "mark gold items")
    answer = answer_validate(schema_version=batch_item.batch.schema_version, answer=answer)
    gold, _ = GoldAnswer.objects.update_or_create(
        batch_item=batch_item, defaults={"answer": answer, "created_by": by}
    )
    return gold


@transaction.atomic
def gold_answer_remove(*, gold: GoldAnswer, by) -> None:
    _require_manager(gold.batch_item.batch.project, by, "unmark gold items")
    gold.delete()


def labels_aggregate_request(*, project: Project, by, method: str) -> None:
    """A manager asks for an aggregation; a Celery job runs ``labels_aggregate`` after commit
    (100 000 items take tens of seconds, too long for a web request). Running it twice writes
    the same labels and records two runs."""
    _require_manager(project, by, "aggregate labels")
    if method not in AggregationRun.Method.values:
        raise DomainError(f"Unknown aggregation method {method!r}.")
    from evaluation.celery_tasks import aggregate_labels

    transaction.on_commit(lambda: aggregate_labels.delay(project.pk, by.pk, method))


def _nan_to_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


@transaction.atomic
def labels_aggregate(*, project: Project, by, method: str) -> AggregationRun:
    """Aggregate every item's judgements (all batches but training) into its final label.

    majority — the plurality answer, confidence its vote share (ties to the schema's first
    label; the review queue picks them up as disagreements); dawid_skene — the Dawid–Skene
    posterior mode, confidence its posterior, with gold items clamped to their known answer.
    Gold items get their gold answer under both. Labels are written through annotation's
    ``final_labels_write`` with rule "aggregated", which leaves reviewed items alone.
    """
    _require_manager(project, by, "aggregate labels")
    if method not in AggregationRun.Method.values:
        raise DomainError(f"Unknown aggregation method {method!r}.")
    j = selectors.project_judgements(project)
    if j is None:
        raise DomainError("Multi-label answers are not aggregated; review them instead.")
    if not j.matrix.size:
        raise DomainError("There are no judgements to aggregate yet.")
    k = len(j.categories)
    gold = selectors.gold_rows(project, j)
    converged = None
    accuracy = np.full(len(j.annotator_ids), np.nan)
    if method == AggregationRun.Method.DAWID_SKENE:
        fit = dawid_skene(j.matrix, k, gold=gold)
        labels, confidence = fit.labels.copy(), fit.confidence.copy()
        accuracy, converged = fit.annotator_accuracy, fit.converged
    else:
        vote = majority_vote(j.matrix, k)
        labels, confidence = vote.labels.copy(), vote.confidence.copy()
    for row, code in gold.items():
        labels[row], confidence[row] = code, 1.0
    decided = np.flatnonzero(labels != MISSING)
    written, kept = final_labels.final_labels_write(
        project=project,
        labels={
            int(j.item_ids[r]): (j.categories[int(labels[r])], float(confidence[r]))
            for r in decided.tolist()
        },
    )
    counts = (j.matrix != MISSING).sum(axis=0)
    names = dict(
        get_user_model()
        .objects.filter(pk__in=j.annotator_ids.tolist())
        .values_list("pk", "username")
    )
    stats = [
        {
            "annotator_id": int(uid),
            "username": names.get(int(uid), "?"),
            "n_judgements": int(counts[col]),
            "estimated_accuracy": _nan_to_none(accuracy[col]),
        }
        for col, uid in enumerate(j.annotator_ids.tolist())
    ]
    return AggregationRun.objects.create(
        project=project,
        method=method,
        n_items=len(decided),
        n_written=written,
        n_kept_reviewed=kept,
        n_gold=len(gold),
        converged=converged,
        annotator_stats=stats,
        created_by=by,
    )
