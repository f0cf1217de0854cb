"""Step 7 reads for managers: the training setup with every annotator's progress, and the
items that could become training items."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from annotation.models import (
    AnnotatorState,
    Item,
    QualificationRule,
    SchemaVersion,
    TrainingAttempt,
    TrainingItem,
)
from annotation.selectors.training import (
    answer_display,
    final_schema,
    guideline_headings,
    training_items,
)
from dmops.models import Membership, Project

# --- the manager's setup -------------------------------------------------------------------


@dataclass
class AnnotatorTraining:
    """One row of the manager's per-annotator table."""

    user: Any
    paused: bool
    qualified_at: datetime | None
    attempts: list[TrainingAttempt] = field(default_factory=list)

    @property
    def best(self) -> TrainingAttempt | None:
        finished = [a for a in self.attempts if a.finished_at is not None]
        return max(finished, key=lambda a: (a.correct, -a.number)) if finished else None

    @property
    def in_progress(self) -> bool:
        return any(a.finished_at is None for a in self.attempts)


def annotator_training_rows(project: Project) -> list[AnnotatorTraining]:
    memberships = project.memberships.filter(role=Membership.Role.ANNOTATOR).select_related("user")
    states = {
        s.user_id: s
        for s in AnnotatorState.objects.filter(project=project).only(
            "user_id", "paused", "qualified_at"
        )
    }
    rows = {}
    for membership in memberships.order_by("user__username"):
        state = states.get(membership.user_id)
        rows[membership.user_id] = AnnotatorTraining(
            user=membership.user,
            paused=bool(state and state.paused),
            qualified_at=state.qualified_at if state else None,
        )
    for attempt in TrainingAttempt.objects.filter(project=project, annotator_id__in=list(rows)):
        rows[attempt.annotator_id].attempts.append(attempt)
    return list(rows.values())


@dataclass
class TrainingSetup:
    rule: QualificationRule | None
    items: list[TrainingItem]
    schema: SchemaVersion | None
    headings: list[str]
    annotators: list[AnnotatorTraining]
    # Removed after annotators answered them: kept so past attempts keep their answers.
    retired: list[TrainingItem] = field(default_factory=list)

    @property
    def label_keys(self) -> list[str]:
        return [label.key for label in self.schema.labels.all()] if self.schema else []


def training_setup(project: Project) -> TrainingSetup:
    """Everything the manager's training page shows: gold answers included."""
    schema = final_schema(project)
    items = list(training_items(project))
    for training_item in items:
        training_item.answer_display = answer_display(schema, training_item.answer)
    return TrainingSetup(
        rule=QualificationRule.objects.filter(project=project).first(),
        items=items,
        schema=schema,
        headings=guideline_headings(project),
        annotators=annotator_training_rows(project),
        retired=list(
            TrainingItem.objects.filter(project=project, retired_at__isnull=False)
            .select_related("item")
            .order_by("retired_at", "pk")
        ),
    )


# --- picking training items ----------------------------------------------------------------

CANDIDATE_LIMIT = 20


def _not_yet_training(project: Project) -> QuerySet[Item]:
    # A retired training item's item is a candidate again: adding it brings it back.
    taken = TrainingItem.objects.active().filter(project=project, item=OuterRef("pk"))
    return Item.objects.filter(project=project, is_active=True).filter(~Exists(taken))


def candidates_search(project: Project, text: str) -> list[Item]:
    """Active items, not yet training items, whose text contains ``text``."""
    if not text.strip():
        return []
    found = _not_yet_training(project).filter(text__icontains=text.strip())
    return list(found.order_by("pk")[:CANDIDATE_LIMIT])


def candidates_by_id(project: Project, ids: list[int]) -> list[Item]:
    return list(_not_yet_training(project).filter(pk__in=ids).order_by("pk")[:CANDIDATE_LIMIT])


def candidates_sample(project: Project, n: int, *, rng: random.Random | None = None) -> list[Item]:
    """``n`` random active items not yet used for training (all of them when fewer are left).
    Each draw is one indexed lookup at a random id (ORDER BY random() would sort the whole
    table of a large project)."""
    rng = rng or random.Random()
    n = max(0, min(n, CANDIDATE_LIMIT))
    pool = _not_yet_training(project)
    bounds = Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)
    low, high = bounds.first(), bounds.last()
    picked: dict[int, Item] = {}
    for _ in range(n * 4):
        if low is None or len(picked) >= n:
            break
        item = pool.filter(pk__gte=rng.randint(low, high)).order_by("pk").first()
        item = item or pool.order_by("pk").first()
        if item is None:
            break
        picked.setdefault(item.pk, item)
    if len(picked) < n:  # draws that kept landing on the same items: top up in id order
        for item in pool.exclude(pk__in=list(picked)).order_by("pk")[: n - len(picked)]:
            picked[item.pk] = item
    return sorted(picked.values(), key=lambda i: i.pk)
