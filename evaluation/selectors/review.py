"""Reads for step 10: the review queue, an item's judgements, spot-check figures and the gate."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404

from annotation.models import Annotation, Batch, Item, Review
from dmops.models import Project
from dmops.steps import CheckResult
from evaluation.agreement import disagreement_items
from evaluation.selectors.agreement import judgement_matrix, quality_settings_for

REASON_ORDER = Case(
    When(reason=Review.Reason.DISAGREEMENT, then=Value(0)),
    When(reason=Review.Reason.LOW_CONFIDENCE, then=Value(1)),
    When(reason=Review.Reason.SPOT_CHECK, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def project_annotations(project: Project) -> QuerySet[Annotation]:
    """Judgements that count for final labels: every batch but training ones."""
    return Annotation.objects.filter(batch_item__batch__project=project).exclude(
        batch_item__batch__kind=Batch.Kind.TRAINING
    )


def project_reviews(project: Project) -> QuerySet[Review]:
    return Review.objects.filter(item__project=project)


def review_queue(project: Project) -> QuerySet[Review]:
    """Pending reviews, disagreements first, then low confidence, then spot checks."""
    return (
        project_reviews(project)
        .filter(decision="")
        .select_related("item")
        .annotate(reason_rank=REASON_ORDER)
        .order_by("reason_rank", "created_at", "pk")
    )


def reviews_decided(project: Project, limit: int = 50) -> list[Review]:
    return list(
        project_reviews(project)
        .exclude(decision="")
        .select_related("item", "reviewer")
        .order_by("-decided_at", "-pk")[:limit]
    )


def review_get(project: Project, review_id: int) -> Review:
    review = project_reviews(project).select_related("item", "reviewer").filter(pk=review_id)
    found = review.first()
    if found is None:
        raise Http404("No such review.")
    return found


def item_judgements(item: Item) -> QuerySet[Annotation]:
    """Every judgement of the item, with who made it, in which batch, under which guideline."""
    return (
        Annotation.objects.filter(item=item)
        .select_related("annotator", "batch_item__batch", "guideline_version")
        .order_by("created_at", "pk")
    )


def disagreement_item_ids(project: Project) -> list[int]:
    """Items whose judgements are not all equal: one query, one NumPy pass."""
    j = judgement_matrix(project_annotations(project))
    return [int(j.item_ids[row]) for row in disagreement_items(j.matrix)]


@dataclass(frozen=True)
class SpotCheckSummary:
    total: int
    pending: int
    accepted: int

    @property
    def decided(self) -> int:
        return self.total - self.pending

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.decided if self.decided else None


def spot_check_summary(project: Project) -> SpotCheckSummary:
    rows = list(
        project_reviews(project)
        .filter(reason=Review.Reason.SPOT_CHECK)
        .values_list("decision", flat=True)
    )
    return SpotCheckSummary(
        total=len(rows),
        pending=sum(1 for d in rows if not d),
        accepted=sum(1 for d in rows if d == Review.Decision.ACCEPT),
    )


def spot_check_gate(project: Project) -> CheckResult:
    """Step 10: a spot-check sample was drawn, every one of its reviews is decided, and the
    share accepted as labelled meets the manager's threshold (corrections and send-backs count
    against it)."""
    threshold = quality_settings_for(project).acceptance_threshold
    summary = spot_check_summary(project)
    if summary.total == 0:
        return CheckResult(False, "No spot-check sample has been drawn yet.")
    if summary.pending:
        return CheckResult(
            False, f"{summary.pending} of {summary.total} spot checks are still to review."
        )
    rate = summary.acceptance_rate or 0.0
    figure = f"{summary.accepted} of {summary.decided} accepted ({rate:.0%})"
    if rate < threshold:
        return CheckResult(False, f"{figure}, below the {threshold:.0%} required.")
    return CheckResult(True, f"{figure}; {threshold:.0%} required.")
