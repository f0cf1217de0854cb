"""Step 11's loop back to people: suspicious labels sent as yes/no verification items, their
answers folded into the labels, uncertainty-first ordering, and pre-annotation from the
latest model or from predictions posted by the user's own model."""

from __future__ import annotations

import pytest

from annotation.models import Batch, BatchItem, Item, Review
from annotation.services import final_labels, labelling
from dmops.errors import DomainError
from evaluation.models import (
    ExternalPrediction,
    VerificationProposal,
    VerificationRun,
)
from evaluation.selectors import verification as selectors
from evaluation.services import verification_queue as queue_services
from tests.evaluation.test_agreement_service import make_items, make_schema
from tests.evaluation.test_verification_service import (  # noqa: F401  autouse fixture
    VOCAB,
    answer_queue,
    fake_encoder,
    labelled_project,
    run_now,
)

pytestmark = pytest.mark.django_db


def test_planted_wrong_labels_are_found_sent_answered_and_folded_back(
    project, manager, annotator, django_capture_on_commit_callbacks
):
    wrong = labelled_project(project, per_class=25, planted=5)
    run = run_now(project, manager, django_capture_on_commit_callbacks)
    suspicious = run.report["suspicious"]
    flagged = {row["item_id"] for row in suspicious}
    assert set(wrong) <= flagged
    for row in suspicious:
        if row["item_id"] in wrong:
            assert row["suggested_label_name"] == wrong[row["item_id"]]

    batch = queue_services.suspicious_send(run=run, by=manager, item_ids=list(wrong))
    assert batch.kind == Batch.Kind.VERIFICATION and batch.is_open
    batch_items = BatchItem.objects.filter(batch=batch)
    given = {it.pk: it.final_label for it in Item.objects.filter(pk__in=wrong)}
    assert {bi.item_id: bi.proposed_label for bi in batch_items} == given
    proposal = VerificationProposal.objects.get(batch_item=batch_items[0])
    assert proposal.run == run and proposal.score > 0
    with pytest.raises(DomainError):  # the same items are not sent twice
        queue_services.suspicious_send(run=run, by=manager, item_ids=list(wrong))

    # People answer the closed question "the label is X — right?": four of five rejected.
    keep = next(iter(wrong))

    def answer(bi):
        return "yes" if bi.item_id == keep else "no"

    assert answer_queue(project, annotator, answer) == 5
    counts = queue_services.proposals_fold(project=project, by=manager)
    assert counts["rejected"] == 4 and counts["confirmed"] == 1
    # Several labels and only "no": people did not say which is right, so a reviewer decides.
    reviewed = set(Review.objects.filter(reason="model").values_list("item_id", flat=True))
    assert reviewed == set(wrong) - {keep}
    assert Item.objects.get(pk=keep).final_label == given[keep]
    assert selectors.verdict_counts(run)["rejected"] == 4
    assert queue_services.proposals_fold(project=project, by=manager) == {}  # folded once


def test_no_answer_on_many_labels_goes_to_review(project, manager, annotator):
    """Several alternatives and only "no": people did not say which label, so a reviewer does."""
    wrong = labelled_project(project, planted=2)
    run = VerificationRun.objects.create(
        project=project,
        status="done",
        report={
            "task_type": "single",
            "classes": list(VOCAB),
            "suspicious": [
                {"item_id": pk, "given_label_name": "x", "suggested_label_name": lab, "score": 0.9}
                for pk, lab in wrong.items()
            ],
        },
    )
    queue_services.suspicious_send(run=run, by=manager, top_k=2)
    VerificationProposal.objects.update(given_label="claim")
    BatchItem.objects.filter(verification_proposal__isnull=False).update(proposed_label="claim")
    for bi in BatchItem.objects.filter(verification_proposal__isnull=False):
        bi.annotations.create(
            batch_id=bi.batch_id, item_id=bi.item_id, annotator=annotator, answer="no"
        )
    BatchItem.objects.filter(verification_proposal__isnull=False).update(is_complete=True)
    counts = queue_services.proposals_fold(project=project, by=manager)
    assert counts["rejected"] == 2 and counts.get("relabelled", 0) == 0
    assert Review.objects.filter(item_id__in=wrong, reason="model").count() == 2


def test_binary_data_rejection_flips_the_stored_answer(project, manager, annotator):
    make_schema(project, task_type="binary", labels=("claim", "opinion"))
    item = make_items(project, 1)[0]
    final_labels.final_labels_write(project=project, labels={item.pk: ("yes", 1.0)})
    run = VerificationRun.objects.create(
        project=project,
        status="done",
        report={
            "task_type": "binary",
            "classes": ["claim:no", "claim:yes"],
            "suspicious": [
                {
                    "item_id": item.pk,
                    "given_label_name": "claim:yes",
                    "suggested_label_name": "claim:no",
                    "score": 0.8,
                }
            ],
        },
    )
    batch = queue_services.suspicious_send(run=run, by=manager, top_k=5)
    assert BatchItem.objects.get(batch=batch).proposed_label == "claim"
    assert answer_queue(project, annotator, lambda bi: "no") == 1
    counts = queue_services.proposals_fold(project=project, by=manager)
    assert counts["rejected"] == 1 and counts["relabelled"] == 1
    assert Item.objects.get(pk=item.pk).final_label == "no"


def test_order_by_uncertainty_writes_entropy_priorities(
    project, manager, django_capture_on_commit_callbacks
):
    labelled_project(project)
    run = run_now(project, manager, django_capture_on_commit_callbacks)
    extra = make_items(project, 0)
    src = Item.objects.first().source
    clear = Item.objects.create(
        project=project,
        source=src,
        position=900,
        text="study found percent rose data",
        raw_text="x",
        text_hash="clear",
    )
    vague = Item.objects.create(
        project=project,
        source=src,
        position=901,
        text="study think why",
        raw_text="y",
        text_hash="vague",
    )
    batch = labelling.batch_create(
        project=project, by=manager, name="Main 2", items=[clear.pk, vague.pk]
    )
    assert extra == []
    written = queue_services.batch_order_by_uncertainty(batch=batch, by=manager, run=run)
    assert written == 2
    prio = dict(BatchItem.objects.filter(batch=batch).values_list("item_id", "priority"))
    assert 0 <= prio[clear.pk] < prio[vague.pk] <= 1
    served = BatchItem.objects.filter(batch=batch).order_by("-priority").first()
    assert served.item_id == vague.pk


def test_predictions_are_validated_stored_and_sent(project, manager):
    labelled_project(project, per_class=4)
    items = list(Item.objects.order_by("pk")[:3])
    with pytest.raises(DomainError) as err:
        queue_services.predictions_store(
            project=project,
            by=manager,
            model_name="m1",
            predictions=[{"item_id": 10**9, "label": "nope", "score": 0.5}],
        )
    assert set(err.value.message_dict) == {"item_id", "label"}
    preds = [
        {"item_id": it.pk, "label": "claim", "score": 0.5 + i / 10} for i, it in enumerate(items)
    ]
    assert (
        queue_services.predictions_store(
            project=project, by=manager, model_name="m1", predictions=preds
        )
        == 3
    )
    preds[0]["label"] = "opinion"
    queue_services.predictions_store(
        project=project, by=manager, model_name="m1", predictions=preds
    )
    assert ExternalPrediction.objects.count() == 3
    assert ExternalPrediction.objects.get(item=items[0]).label == "opinion"
    batch = queue_services.predictions_send(
        project=project, by=manager, model_name="m1", min_score=0.55
    )
    rows = dict(BatchItem.objects.filter(batch=batch).values_list("item_id", "proposed_label"))
    assert rows == {items[1].pk: "claim", items[2].pk: "claim"}
    assert VerificationProposal.objects.filter(source="external", model_name="m1").count() == 2
    # People confirm one prediction and reject the other by naming the right label.
    for bi in BatchItem.objects.filter(batch=batch):
        answer = "claim" if bi.item_id == items[1].pk else "question"
        bi.annotations.create(
            batch_id=bi.batch_id, item_id=bi.item_id, annotator=manager, answer=answer
        )
    BatchItem.objects.filter(batch=batch).update(is_complete=True)
    Item.objects.filter(pk__in=[items[1].pk, items[2].pk]).update(final_label=None, final_rule="")
    counts = queue_services.proposals_fold(project=project, by=manager)
    assert counts["confirmed"] == 1 and counts["rejected"] == 1
    labels = dict(Item.objects.filter(pk__in=rows).values_list("pk", "final_label"))
    assert labels == {items[1].pk: "claim", items[2].pk: "question"}


def test_run_model_pre_annotates_unlabelled_items(
    project, manager, django_capture_on_commit_callbacks
):
    labelled_project(project)
    run = run_now(project, manager, django_capture_on_commit_callbacks)
    src = Item.objects.first().source
    new = Item.objects.create(
        project=project,
        source=src,
        position=999,
        text="why how whether ask",
        raw_text="q",
        text_hash="new",
    )
    batch = queue_services.run_predictions_send(run=run, by=manager)
    assert BatchItem.objects.get(batch=batch).item_id == new.pk
    assert BatchItem.objects.get(batch=batch).proposed_label == "question"
