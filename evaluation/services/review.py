"""Step 10 writes: filling the review queue and recording reviewers' decisions, both through
annotation's services (the Review rows and final labels are annotation's tables)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from annotation.models import Item, Review
from annotation.services import final_labels
from dmops.models import Membership, Project
from evaluation.selectors import review as selectors
from evaluation.selectors.agreement import quality_settings_for


def _require_reviewer(project: Project, user) -> None:
    if project.role_of(user) not in (Membership.Role.MANAGER, Membership.Role.REVIEWER):
        raise PermissionDenied("Only reviewers and managers can review labels.")


@dataclass(frozen=True)
class QueueFill:
    disagreement: int
    low_confidence: int
    spot_check: int

    @property
    def total(self) -> int:
        return self.disagreement + self.low_confidence + self.spot_check


@transaction.atomic
def review_queue_fill(*, project: Project, by) -> QueueFill:
    """Queue for review: items whose judgements disagree; items whose aggregated label is less
    confident than the manager's threshold; and a random spot check of labelled items, topped
    up to the manager's percentage of all labelled items. An item waits in the queue once."""
    _require_reviewer(project, by)
    settings = quality_settings_for(project)
    disagreeing = selectors.disagreement_item_ids(project)
    n_disagreement = final_labels.reviews_enqueue(
        project=project,
        by=by,
        entries=((i, Review.Reason.DISAGREEMENT) for i in disagreeing),
    )
    unsure = Item.objects.filter(
        project=project,
        final_rule=final_labels.AGGREGATED,
        final_confidence__lt=settings.low_confidence_threshold,
    ).values_list("pk", flat=True)
    n_low = final_labels.reviews_enqueue(
        project=project,
        by=by,
        entries=((i, Review.Reason.LOW_CONFIDENCE) for i in unsure.iterator()),
    )
    labelled = Item.objects.filter(project=project, final_label__isnull=False)
    wanted = math.ceil(labelled.count() * settings.spot_check_percent / 100)
    drawn = selectors.project_reviews(project).filter(reason=Review.Reason.SPOT_CHECK)
    missing = wanted - drawn.count()
    n_spot = 0
    if missing > 0:
        # Spot checks are drawn from items nobody queued for review, so they measure the
        # labels as they stand rather than the ones already known to be doubtful.
        sample = (
            labelled.exclude(pk__in=selectors.project_reviews(project).values("item_id"))
            .order_by("?")
            .values_list("pk", flat=True)[:missing]
        )
        n_spot = final_labels.reviews_enqueue(
            project=project,
            by=by,
            entries=((i, Review.Reason.SPOT_CHECK) for i in sample),
        )
    return QueueFill(n_disagreement, n_low, n_spot)


def review_decide(
    *, review: Review, by, decision: str, label: Any = None, note: str = ""
) -> Review:
    """A reviewer accepts, corrects or sends back; the rule is annotation's ``review_record``."""
    _require_reviewer(review.item.project, by)
    return final_labels.review_record(
        review=review, by=by, decision=decision, label=label, note=note
    )
