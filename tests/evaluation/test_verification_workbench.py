"""Step 11 closes its loop in the browser: a suspicious label sent back by the model becomes a
yes/no question on the annotators' workbench, and their answer folds back into the labels."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Annotation, Batch, BatchItem, Item
from evaluation.models import VerificationRun
from evaluation.services import verification_queue as queue_services
from tests.evaluation.test_verification_service import VOCAB, labelled_project

pytestmark = pytest.mark.django_db


def test_annotator_rejects_a_model_suspicion_from_the_workbench(
    client, project, manager, annotator
):
    wrong = labelled_project(project, per_class=3, planted=1)
    (item_id,) = wrong
    given = Item.objects.get(pk=item_id).final_label
    run = VerificationRun.objects.create(
        project=project,
        status="done",
        report={
            "task_type": "single",
            "classes": list(VOCAB),
            "suspicious": [
                {
                    "item_id": item_id,
                    "given_label_name": given,
                    "suggested_label_name": wrong[item_id],
                    "score": 0.9,
                }
            ],
        },
    )
    batch = queue_services.suspicious_send(run=run, by=manager, item_ids=[item_id])
    assert batch.kind == Batch.Kind.VERIFICATION

    client.force_login(annotator)
    page = client.get(reverse("workbench", args=[project.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    # A closed question about the label the item was given, whatever the schema's task type.
    assert Item.objects.get(pk=item_id).text in html
    assert 'data-hotkey="y"' in html and 'data-hotkey="n"' in html
    assert given.title() in html  # the label's name (make_schema titles the keys)

    batch_item = BatchItem.objects.get(batch=batch)
    lease = batch_item.leases.get(annotator=annotator)
    answered = client.post(
        reverse("workbench_answer", args=[project.pk]), {"lease": lease.pk, "answer": "no"}
    )
    assert answered.status_code == 303
    assert Annotation.objects.get(batch_item=batch_item).answer == "no"
    counts = queue_services.proposals_fold(project=project, by=manager)
    assert counts["rejected"] == 1
