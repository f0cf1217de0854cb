"""The README's first command: the demo project arrives ready to label, steps 2–8 set up."""

from __future__ import annotations

import pytest

from annotation import queue
from annotation.models import Batch, GuidelineVersion, QualificationRule, TrainingItem
from annotation.selectors import training as training_selectors
from annotation.services import training as training_services
from dmops.demo import load_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = load_demo()
    return project


def test_demo_project_has_a_final_schema_guideline_training_and_batches(demo):
    schema = demo.schema_versions.get()
    assert schema.is_final and schema.task_type == "binary"
    assert GuidelineVersion.objects.filter(project=demo).count() == 1
    assert TrainingItem.objects.filter(project=demo).count() == 10
    assert QualificationRule.objects.get(project=demo).min_correct == 8
    batches = {b.kind: b for b in Batch.objects.filter(project=demo)}
    assert batches["pilot"].is_open and batches["pilot"].overlap == 2
    assert batches["pilot"].batch_items.count() == 10
    assert not batches["main"].is_open and batches["main"].batch_items.count() == 11
    # Every item of a batch asks about a label of the schema.
    keys = set(schema.labels.values_list("key", flat=True))
    asked = set(
        Batch.objects.filter(project=demo).values_list("batch_items__proposed_label", flat=True)
    )
    assert asked <= keys


def test_demo_annotator_qualifies_with_the_gold_answers_then_gets_a_pilot_item(demo):
    ana = demo.memberships.get(user__username="ana").user
    assert queue.work_refusal(project=demo, annotator=ana) == queue.Refusal.NOT_QUALIFIED
    attempt = training_services.training_attempt_start(project=demo, annotator=ana)
    for training_item in training_selectors.training_items(demo):
        training_services.training_answer(
            attempt=attempt, by=ana, training_item=training_item, answer=training_item.answer
        )
    lease = queue.next_item(project=demo, annotator=ana)
    assert lease is not None and lease.batch_item.batch.kind == Batch.Kind.PILOT
