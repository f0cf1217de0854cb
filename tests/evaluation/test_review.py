"""Step 10: the review queue, reviewers' decisions, send-backs and the extrinsic checks."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from annotation import queue
from annotation.models import Annotation, Batch, BatchItem, Item, Review
from annotation.services import labelling
from dmops.errors import DomainError
from evaluation.selectors import quality as quality_selectors
from evaluation.selectors import review as selectors
from evaluation.services import agreement as agreement_services
from evaluation.services import quality as quality_services
from evaluation.services import review as services
from tests.evaluation.test_agreement_service import (
    label_all,
    main_batch,
    noisy,
    setup_team,
    truth,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(project, manager):
    return setup_team(project, manager)


@pytest.fixture
def labelled(team, project, manager):
    """12 items labelled by three annotators (the last one flips every 4th), aggregated."""
    items = list(Item.objects.filter(project=project).order_by("position")[:12])
    main_batch(project, manager, items)
    label_all(project, team, noisy(team, every=4))
    quality_services.labels_aggregate(project=project, by=manager, method="majority")
    return items


def test_queue_holds_disagreements_low_confidence_and_a_spot_check_once(
    labelled, project, manager, reviewer
):
    agreement_services.quality_settings_update(
        project=project, by=manager, low_confidence_threshold=0.7, spot_check_percent=25
    )
    fill = services.review_queue_fill(project=project, by=reviewer)
    # Positions 0, 4, 8 have a 2-1 split: disagreement (their 2/3 confidence is below 0.7 too,
    # but an item waits in the queue once). Spot check: 25 % of 12 labelled items, drawn from
    # the others.
    assert (fill.disagreement, fill.low_confidence, fill.spot_check) == (3, 0, 3)
    queued = list(selectors.review_queue(project))
    assert [r.reason for r in queued] == ["disagreement"] * 3 + ["spot_check"] * 3
    assert {r.item.position for r in queued[:3]} == {0, 4, 8}
    again = services.review_queue_fill(project=project, by=reviewer)
    assert again.total == 0
    assert Review.objects.count() == 6


def test_low_confidence_items_are_queued(labelled, project, manager, reviewer):
    Item.objects.filter(pk=labelled[1].pk).update(final_confidence=0.4)
    agreement_services.quality_settings_update(project=project, by=manager, spot_check_percent=0)
    fill = services.review_queue_fill(project=project, by=reviewer)
    assert (fill.disagreement, fill.low_confidence, fill.spot_check) == (3, 1, 0)


def test_accept_and_correct_set_reviewed_labels_that_aggregation_keeps(
    labelled, project, manager, reviewer
):
    services.review_queue_fill(project=project, by=reviewer)
    first, second = list(selectors.review_queue(project))[:2]
    services.review_decide(review=first, by=reviewer, decision="accept")
    services.review_decide(review=second, by=manager, decision="correct", label="unsure")
    first.item.refresh_from_db()
    second.item.refresh_from_db()
    assert (first.item.final_rule, first.item.final_label) == ("reviewed", truth(first.item))
    assert (second.item.final_rule, second.item.final_label) == ("reviewed", "unsure")
    assert second.item.final_confidence == 1.0
    quality_services.labels_aggregate(project=project, by=manager, method="dawid_skene")
    second.item.refresh_from_db()
    assert second.item.final_label == "unsure"
    decided = Review.objects.get(pk=second.pk)
    assert (decided.decision, decided.label, decided.reviewer) == ("correct", "unsure", manager)
    assert decided.decided_at is not None


def test_a_review_is_decided_once_with_a_valid_label(labelled, project, reviewer):
    services.review_queue_fill(project=project, by=reviewer)
    review = selectors.review_queue(project).first()
    with pytest.raises(DomainError):
        services.review_decide(review=review, by=reviewer, decision="correct", label="maybe")
    services.review_decide(review=review, by=reviewer, decision="accept")
    with pytest.raises(DomainError, match="already"):
        services.review_decide(review=review, by=reviewer, decision="accept")


def test_annotators_do_not_review(labelled, project, reviewer, annotator):
    with pytest.raises(PermissionDenied):
        services.review_queue_fill(project=project, by=annotator)
    services.review_queue_fill(project=project, by=reviewer)
    with pytest.raises(PermissionDenied):
        services.review_decide(
            review=selectors.review_queue(project).first(), by=annotator, decision="accept"
        )


def test_send_back_needs_a_note_and_puts_the_item_in_a_reannotation_batch(
    labelled, project, reviewer, team
):
    services.review_queue_fill(project=project, by=reviewer)
    review = selectors.review_queue(project).first()
    with pytest.raises(DomainError):
        services.review_decide(review=review, by=reviewer, decision="send_back")
    services.review_decide(review=review, by=reviewer, decision="send_back", note="Look again.")
    batch = Batch.objects.get(kind="verification")
    assert batch.is_open and batch.overlap == 1 and batch.name == "Re-annotation"
    assert list(batch.batch_items.values_list("item_id", flat=True)) == [review.item_id]
    # The re-annotation is served first, to anyone (here someone who already judged it).
    lease = queue.next_item(project=project, annotator=team[2])
    assert lease.batch_item.batch_id == batch.pk
    labelling.annotation_submit(lease=lease, by=team[2], answer=truth(review.item))
    assert Annotation.objects.filter(item=review.item, annotator=team[2]).count() == 2
    # The newest judgement replaces the annotator's older one: no disagreement is left.
    assert review.item_id not in selectors.disagreement_item_ids(project)
    # Sent back again, it goes to a new re-annotation batch.
    services.review_queue_fill(project=project, by=reviewer)
    review2 = Review.objects.create(item=review.item, reason="model")
    services.review_decide(review=review2, by=reviewer, decision="send_back", note="Again.")
    assert BatchItem.objects.filter(item=review.item, batch__kind="verification").count() == 2


def test_extrinsic_checks_find_fast_and_invariant_annotators(team, project, manager):
    items = list(Item.objects.filter(project=project).order_by("position")[:10])
    main_batch(project, manager, items, overlap=2)
    label_all(project, team[:1], lambda u, i: truth(i), seconds=10)
    for user in team[1:2]:
        while lease := queue.next_item(project=project, annotator=user):
            seconds = 0.5 if lease.batch_item.item.position < 3 else 10
            labelling.annotation_submit(lease=lease, by=user, answer="yes", seconds_spent=seconds)
    checks = quality_selectors.extrinsic_checks(project)
    assert checks.fast == [{"username": "ann1", "median": 10.0, "fast": 3, "n": 10}]
    assert checks.invariant == [{"username": "ann1", "answer": "yes", "n": 10}]
    assert checks.distribution["main"]["yes"] == pytest.approx(15 / 20)
    assert checks.distribution["pilot"] == {}
    assert checks.weak_labels == [("(none)", 10)]
