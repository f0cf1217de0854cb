"""Step 11 services: verification runs (cache, retry, cancel), the label-noise flow from
suspicious labels to a verification batch and back, uncertainty ordering, predictions, gate 11.

Most tests use :class:`~tests.evaluation.verification_doubles.HashingEncoder` (a test double);
one test pushes a few short texts through the real encoder.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from annotation import queue
from annotation.models import Item
from annotation.services import final_labels, labelling
from dmops.errors import DomainError
from dmops.steps import evaluate_checks
from evaluation.celery_tasks import compute_verification_run
from evaluation.models import (
    ItemEmbedding,
    VerificationRun,
)
from evaluation.selectors import verification as selectors
from evaluation.services import verification as services
from evaluation.verification.pipeline import compare_reports
from tests.evaluation.test_agreement_service import make_items, make_schema
from tests.evaluation.verification_doubles import ENCODER_PATH, HashingEncoder

VOCAB = {
    "claim": "study found percent rose data report measured survey census evidence",
    "opinion": "beautiful best terrible think wonderful awful love hate boring amazing",
    "question": "why how whether what when who which wonder ask unclear",
}
FAST = {"n_folds": 3, "seeds": [0], "fractions": [0.5, 1.0], "top_k": 50}


@pytest.fixture(autouse=True)
def fake_encoder(settings):
    settings.DMOPS_VERIFICATION_ENCODER = ENCODER_PATH
    HashingEncoder.calls = 0


def labelled_project(project, per_class: int = 20, planted: int = 0, seed: int = 0):
    """Items whose words say their class; ``planted`` of them carry a wrong final label.
    Returns {item_id: true label} for the planted ones."""
    make_schema(project, task_type="single", labels=tuple(VOCAB))
    rng = random.Random(seed)
    keys = list(VOCAB)
    items = make_items(project, per_class * len(keys))
    truth = {}
    for i, item in enumerate(items):
        label = keys[i % len(keys)]
        words = rng.sample(VOCAB[label].split(), 6)
        item.text = " ".join(words) + f" n{i}"
        truth[item.pk] = label
    Item.objects.bulk_update(items, ["text"])
    wrong = {}
    given = dict(truth)
    for item in items[:planted]:
        wrong[item.pk] = truth[item.pk]
        given[item.pk] = keys[(keys.index(truth[item.pk]) + 1) % len(keys)]
    final_labels.final_labels_write(
        project=project, labels={pk: (label, 0.9) for pk, label in given.items()}
    )
    return wrong


def run_now(project, manager, django_capture_on_commit_callbacks, config=None):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.verification_run_start(project=project, by=manager, config=config or FAST)
    run.refresh_from_db()
    return run


def test_run_reports_learnability_curve_and_figures(
    project, manager, django_capture_on_commit_callbacks
):
    labelled_project(project)
    run = run_now(project, manager, django_capture_on_commit_callbacks)
    assert run.status == "done", run.error
    assert run.progress == 100
    report = run.report
    assert report["n_items"] == 60
    assert report["learnability"]["macro_f1"] > 0.8
    assert report["learnability"]["baselines"]["majority"]["macro_f1"] < 0.4
    assert {p["fraction"] for p in report["learning_curve"]["points"]} == {0.5, 1.0}
    assert report["learning_curve"]["reading"]
    assert run.figures["learning_curve"].lstrip().startswith("<?xml")
    assert set(run.library_versions) >= {"torch", "transformers", "scikit-learn", "cleanlab"}
    assert run.model_revision == "hashing-test-double/v1/len128"


def test_second_run_reuses_cached_embeddings(project, manager, django_capture_on_commit_callbacks):
    labelled_project(project)
    first = run_now(project, manager, django_capture_on_commit_callbacks)
    assert (first.n_embedded, HashingEncoder.calls) == (60, 60)
    assert ItemEmbedding.objects.count() == 60
    second = run_now(project, manager, django_capture_on_commit_callbacks)
    assert second.status == "done"
    assert second.n_embedded == 0
    assert HashingEncoder.calls == 60  # the encoder saw no text the second time


def test_changed_text_is_embedded_again(project, manager, django_capture_on_commit_callbacks):
    labelled_project(project)
    run_now(project, manager, django_capture_on_commit_callbacks)
    Item.objects.filter(pk=Item.objects.order_by("pk").first().pk).update(text="study found n999")
    second = run_now(project, manager, django_capture_on_commit_callbacks)
    assert second.n_embedded == 1


def test_running_the_job_twice_keeps_one_report(
    project, manager, django_capture_on_commit_callbacks
):
    labelled_project(project)
    run = run_now(project, manager, django_capture_on_commit_callbacks)
    finished_at = run.finished_at
    compute_verification_run(run.pk)  # a redelivered job
    run.refresh_from_db()
    assert run.finished_at == finished_at
    assert VerificationRun.objects.filter(project=project).count() == 1
    assert HashingEncoder.calls == 60


def test_second_start_refused_while_one_is_waiting(project, manager):
    labelled_project(project)
    services.verification_run_start(project=project, by=manager, config=FAST)
    with pytest.raises(DomainError):
        services.verification_run_start(project=project, by=manager, config=FAST)


def test_cancel_waiting_run_stops_it_before_it_starts(project, manager):
    labelled_project(project)
    run = services.verification_run_start(project=project, by=manager, config=FAST)
    services.verification_run_cancel(run=run, by=manager)
    compute_verification_run(run.pk)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert HashingEncoder.calls == 0


def test_cancel_running_run_stops_between_batches(project, manager, monkeypatch):
    labelled_project(project)
    run = services.verification_run_start(project=project, by=manager, config={"batch_size": 8})
    real_encode = HashingEncoder.encode

    def encode_then_cancel(self, texts, **kwargs):
        out = real_encode(self, texts, **kwargs)
        VerificationRun.objects.filter(pk=run.pk).update(cancel_requested=True)
        return out

    monkeypatch.setattr(HashingEncoder, "encode", encode_then_cancel)
    compute_verification_run(run.pk)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert HashingEncoder.calls == 8  # one batch, then it stopped
    assert run.report == {}


def test_cancel_frees_a_run_whose_worker_died(project, manager):
    long_ago = timezone.now() - services.JOB_HARD_LIMIT - timedelta(minutes=1)
    run = VerificationRun.objects.create(project=project, status="running", started_at=long_ago)
    services.verification_run_cancel(run=run, by=manager)
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_too_few_items_fails_with_a_reason(project, manager, django_capture_on_commit_callbacks):
    make_schema(project, task_type="single", labels=("claim", "opinion"))
    items = make_items(project, 4)
    final_labels.final_labels_write(project=project, labels={it.pk: ("claim", 1.0) for it in items})
    run = run_now(project, manager, django_capture_on_commit_callbacks)
    assert run.status == "failed"
    assert "at least 10" in run.error


def test_only_managers_start_runs(project, reviewer):
    with pytest.raises(PermissionDenied):
        services.verification_run_start(project=project, by=reviewer)


def answer_queue(project, user, answer) -> int:
    """Answer everything the queue serves ``user``, with ``answer(batch_item)``."""
    n = 0
    while lease := queue.next_item(project=project, annotator=user):
        labelling.annotation_submit(lease=lease, by=user, answer=answer(lease.batch_item))
        n += 1
    return n


def test_compare_two_runs_gives_macro_and_per_label_deltas():
    a = {"learnability": {"macro_f1": 0.5, "per_label": [{"label": "x", "f1": 0.4}]}}
    b = {
        "learnability": {
            "macro_f1": 0.7,
            "per_label": [{"label": "x", "f1": 0.9}, {"label": "y", "f1": 0.5}],
        }
    }
    out = compare_reports(a, b)
    assert out["macro_f1_delta"] == pytest.approx(0.2)
    assert out["per_label"][0]["delta"] == pytest.approx(0.5)
    assert out["per_label"][1]["delta"] is None


def gate(project):
    return next(o for o in evaluate_checks(project, 11) if o.check.key == "verification_signed_off")


def test_gate_11_needs_a_run_after_the_last_labelling_with_findings(
    project, manager, annotator, django_capture_on_commit_callbacks
):
    labelled_project(project)
    assert not gate(project).passed
    run = run_now(project, manager, django_capture_on_commit_callbacks)
    assert not gate(project).passed and "no sign-off" in gate(project).result.detail
    services.verification_findings_sign(run=run, by=manager, note="Two confused labels; fixed.")
    assert gate(project).passed
    # New labelling after the run: the run no longer speaks for the data.
    batch = labelling.batch_create(
        project=project,
        by=manager,
        name="More",
        items=Item.objects.filter(project=project)[:1],
        is_open=True,
    )
    assert batch.schema_version is not None
    answer_queue(project, annotator, lambda bi: "claim")
    assert not gate(project).passed


def test_findings_note_is_required_and_manager_only(
    project, manager, reviewer, django_capture_on_commit_callbacks
):
    labelled_project(project)
    run = run_now(project, manager, django_capture_on_commit_callbacks)
    with pytest.raises(DomainError):
        services.verification_findings_sign(run=run, by=manager, note="  ")
    with pytest.raises(PermissionDenied):
        services.verification_findings_sign(run=run, by=reviewer, note="ok")


def test_real_encoder_embeds_and_caches_a_few_short_texts(project, manager, settings):
    """The one test through the real all-MiniLM-L6-v2 (30 short texts)."""
    settings.DMOPS_VERIFICATION_ENCODER = "evaluation.verification.embed.Encoder"
    labelled_project(project, per_class=10)
    data = selectors.labelled_data(project)
    encoder = services.get_encoder()
    X, computed, revision = services.embeddings_for(
        item_ids=data.item_ids, texts=data.texts, encoder=encoder
    )
    assert X.shape == (30, 384) and computed == 30
    again, computed, _ = services.embeddings_for(
        item_ids=data.item_ids, texts=data.texts, encoder=encoder
    )
    assert computed == 0 and (again == X).all()
    assert ItemEmbedding.objects.filter(model_revision=revision).count() == 30
