"""Reads for ongoing quality: gold answers, the annotator roster and step 10's extrinsic checks.
Each figure comes from one query turned into NumPy arrays; loops run over annotators or labels,
never over items."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from annotation.models import AnnotatorState, Batch, Item
from dmops.models import Membership, Project
from evaluation.aggregation import gold_accuracy
from evaluation.agreement import MISSING
from evaluation.models import AggregationRun, GoldAnswer
from evaluation.selectors.agreement import (
    Judgements,
    answer_key,
    categories_for,
    current_schema,
    judgement_matrix,
    quality_settings_for,
)
from evaluation.selectors.review import project_annotations

# An annotation faster than this share of its annotator's median time is an outlier.
FAST_SHARE = 0.25
# Fewer judgements than this say nothing about whether an annotator's answers vary.
MIN_FOR_VARIETY = 5


def gold_answers(project: Project) -> QuerySet[GoldAnswer]:
    return (
        GoldAnswer.objects.filter(batch_item__batch__project=project)
        .select_related("batch_item__batch", "batch_item__item")
        .order_by("batch_item__batch_id", "batch_item_id")
    )


def gold_rows(project: Project, j: Judgements) -> dict[int, int]:
    """Gold answers as {matrix row: category code}, for items in the matrix."""
    code = {name: i for i, name in enumerate(j.categories)}
    rows: dict[int, int] = {}
    for item_id, answer in gold_answers(project).values_list("batch_item__item_id", "answer"):
        row = j.row_of(item_id)
        c = code.get(answer_key(answer))
        if row is not None and c is not None:
            rows[row] = c
    return rows


def project_judgements(project: Project) -> Judgements | None:
    """The project's judgements coded by its current schema; None for multi-label schemas."""
    categories = categories_for(current_schema(project))
    if categories is None:
        return None
    return judgement_matrix(project_annotations(project), categories)


@dataclass
class AnnotatorRow:
    user_id: int
    username: str
    n_judgements: int = 0
    gold_accuracy: float | None = None
    n_gold: int = 0
    estimated_accuracy: float | None = None
    paused: bool = False
    flagged: bool = False


def annotator_roster(project: Project) -> list[AnnotatorRow]:
    """Every annotator with judgements, accuracy on gold items (flagged below the manager's
    minimum) and the accuracy the latest Dawid–Skene run estimated."""
    minimum = quality_settings_for(project).gold_accuracy_min
    members = Membership.objects.filter(project=project, role=Membership.Role.ANNOTATOR)
    users = dict(members.values_list("user_id", "user__username"))
    j = project_judgements(project)
    rows = {uid: AnnotatorRow(uid, name) for uid, name in users.items()}
    if j is not None and j.matrix.size:
        others = set(j.annotator_ids.tolist()) - set(rows)
        more = get_user_model().objects.filter(pk__in=others).values_list("pk", "username")
        rows.update({uid: AnnotatorRow(uid, name) for uid, name in more})
        counts = (j.matrix != MISSING).sum(axis=0)
        gold = gold_rows(project, j)
        accuracy = gold_accuracy(j.matrix, gold) if gold else np.full(len(counts), np.nan)
        n_gold = (j.matrix[sorted(gold)] != MISSING).sum(axis=0) if gold else counts * 0
        for col, uid in enumerate(j.annotator_ids.tolist()):
            row = rows[uid]
            row.n_judgements = int(counts[col])
            row.n_gold = int(n_gold[col])
            if not np.isnan(accuracy[col]):
                row.gold_accuracy = float(accuracy[col])
                row.flagged = row.gold_accuracy < minimum
    run = AggregationRun.objects.filter(project=project, method="dawid_skene").first()
    for stat in run.annotator_stats if run else []:
        if stat["annotator_id"] in rows:
            rows[stat["annotator_id"]].estimated_accuracy = stat.get("estimated_accuracy")
    paused = set(
        AnnotatorState.objects.filter(project=project, paused=True).values_list(
            "user_id", flat=True
        )
    )
    for row in rows.values():
        row.paused = row.user_id in paused
    return sorted(rows.values(), key=lambda r: r.username)


@dataclass
class ExtrinsicChecks:
    """Step 10's checks against the outside: distributions, speed and variety."""

    distribution: dict[str, dict[str, float]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    weak_labels: list[tuple[str, int]] = field(default_factory=list)
    fast: list[dict] = field(default_factory=list)
    invariant: list[dict] = field(default_factory=list)


def _shares(counter: Counter) -> dict[str, float]:
    total = sum(counter.values())
    return {k: v / total for k, v in counter.items()} if total else {}


def extrinsic_checks(project: Project) -> ExtrinsicChecks:
    """Label shares in main vs pilot batches (and the weak labels of the labelled items);
    annotations much faster than their annotator's median; annotators who always answer the
    same. One query over the judgements, one over the labelled items' weak labels."""
    rows = list(
        project_annotations(project).values_list(
            "annotator_id", "answer", "seconds_spent", "batch_item__batch__kind"
        )
    )
    checks = ExtrinsicChecks()
    by_kind: dict[str, Counter] = {Batch.Kind.PILOT: Counter(), Batch.Kind.MAIN: Counter()}
    for _, answer, _, kind in rows:
        if kind in by_kind:
            keys = answer if isinstance(answer, list) else [answer]
            by_kind[kind].update(answer_key(k) for k in keys)
    checks.distribution = {kind: _shares(c) for kind, c in by_kind.items()}
    checks.labels = sorted(set().union(*by_kind.values()))
    weak = Counter()
    labelled = Item.objects.filter(project=project, annotations__isnull=False).distinct()
    for labels in labelled.values_list("weak_labels", flat=True):
        weak.update(labels or ["(none)"])
    checks.weak_labels = weak.most_common(15)
    if not rows:
        return checks
    users = dict(
        get_user_model().objects.filter(pk__in={r[0] for r in rows}).values_list("pk", "username")
    )
    annotators = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    seconds = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    answers = np.array([answer_key(r[1]) for r in rows], dtype=object)
    for uid in np.unique(annotators).tolist():
        mine = annotators == uid
        timed = seconds[mine & (seconds > 0)]
        if timed.size >= MIN_FOR_VARIETY:
            median = float(np.median(timed))
            fast = int((timed < FAST_SHARE * median).sum())
            if fast:
                checks.fast.append(
                    {
                        "username": users.get(uid, "?"),
                        "median": median,
                        "fast": fast,
                        "n": int(timed.size),
                    }
                )
        distinct = set(answers[mine].tolist())
        if mine.sum() >= MIN_FOR_VARIETY and len(distinct) == 1:
            checks.invariant.append(
                {"username": users.get(uid, "?"), "answer": distinct.pop(), "n": int(mine.sum())}
            )
    return checks
