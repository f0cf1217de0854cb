"""Agreement reports from real Annotation rows, the pilot batch, gold answers and aggregation.

The helpers at the top label batches through the colleague's queue and submit services, and are
shared with the gate, review and view tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation import queue
from annotation.models import (
    Annotation,
    Batch,
    GuidelineVersion,
    Item,
)
from annotation.services import guideline as guideline_services
from annotation.services import labelling
from annotation.services import pilot as pilot_services
from annotation.services import team as team_services
from dmops.errors import DomainError
from evaluation.agreement import agreement_report, reliability_matrix
from evaluation.celery_tasks import compute_agreement_report, sweep_pilot_reports
from evaluation.models import AggregationRun, AgreementReport, GoldAnswer
from evaluation.selectors import quality as quality_selectors
from evaluation.services import agreement as services
from evaluation.services import quality as quality_services
from tests.annotation import builders
from tests.annotation.builders import annotators_on as add_annotators
from tests.annotation.builders import make_schema

pytestmark = pytest.mark.django_db

Answer = Callable[[object, Item], object]


# --- helpers shared with the gate, review and view tests -----------------------------------------


def make_items(project, n: int, *, weak: Callable[[int], list] | None = None) -> list[Item]:
    return builders.make_items(project, n, prefix="Claim", weak=weak)


def publish(project, manager, text: str = "Label claims that need a citation.") -> GuidelineVersion:
    n = GuidelineVersion.objects.filter(project=project).count() + 1
    return guideline_services.guideline_publish(
        project=project, by=manager, body=f"# v{n}\n{text}\n", change_summary=f"v{n}"
    )


def label_all(project, annotators, answer: Answer, *, seconds: float = 10.0) -> None:
    """Every annotator takes items from the queue until none is left, answering ``answer``."""
    for user in annotators:
        while lease := queue.next_item(project=project, annotator=user):
            item = Item.objects.get(pk=lease.batch_item.item_id)
            labelling.annotation_submit(
                lease=lease, by=user, answer=answer(user, item), seconds_spent=seconds
            )


def truth(item: Item) -> str:
    return "yes" if item.position % 2 else "no"


def agreeing(user, item: Item) -> str:
    return truth(item)


def noisy(annotators, every: int = 3) -> Answer:
    """The last annotator flips the answer on every ``every``-th item."""

    def answer(user, item: Item) -> str:
        if user == annotators[-1] and item.position % every == 0:
            return "no" if truth(item) == "yes" else "yes"
        return truth(item)

    return answer


def run_pilot(project, manager, annotators, answer: Answer, *, size: int = 10, capture=None):
    """Start a pilot, label it, close it, and compute its report through the Celery job."""
    batch = pilot_services.pilot_batch_create(project=project, by=manager, size=size, seed=1)
    label_all(project, annotators, answer)
    labelling.batch_close(batch=batch, by=manager)
    with capture(execute=True):
        services.agreement_report_request(batch=batch, by=manager)
    return AgreementReport.objects.get(batch=batch)


def setup_team(project, manager) -> list:
    """A final binary schema, a guideline, 40 items and three more annotators on ``project``."""
    make_schema(project)
    make_items(project, 40)
    publish(project, manager)
    return add_annotators(project, 3)


@pytest.fixture
def team(project, manager):
    return setup_team(project, manager)


# --- reports ---------------------------------------------------------------------------------


def test_report_from_annotation_rows_equals_agreement_report_on_same_matrix(
    team, project, manager, annotator, django_capture_on_commit_callbacks
):
    everyone = [annotator, *team]
    report = run_pilot(
        project, manager, everyone, noisy(everyone), capture=django_capture_on_commit_callbacks
    )
    assert report.status == AgreementReport.Status.DONE and report.computed_at
    rows = Annotation.objects.filter(batch_item__batch=report.batch).values_list(
        "item_id", "annotator_id", "answer"
    )
    codes = {"yes": 0, "no": 1, "unsure": 2}
    items, annotators, answers = zip(*rows, strict=True)
    matrix, _, _ = reliability_matrix(items, annotators, [codes[a] for a in answers])
    expected = agreement_report(matrix, ["yes", "no", "unsure"], n_resamples=1000, seed=0)
    results = report.results
    for name in ("krippendorff_alpha", "gwet_ac1", "fleiss_kappa", "percent_agreement"):
        assert results[name]["value"] == pytest.approx(expected[name]["value"])
        assert results[name]["ci"] == pytest.approx(expected[name]["ci"])
    assert results["cohen_kappa"] == expected["cohen_kappa"]
    assert results["confusion"] == expected["confusion"]
    assert report.alpha == pytest.approx(expected["krippendorff_alpha"]["value"])
    assert (report.n_items, report.n_annotators) == (10, 4)
    assert results["disagreement"]["n_items"] == expected["disagreement"]["n_items"] > 0
    first = results["disagreement"]["items"][0]
    assert first["item_id"] in {bi.item_id for bi in report.batch.batch_items.all()}
    assert len(first["answers"]) == 4 and {"annotator", "answer"} <= set(first["answers"][0])
    assert report.guideline_version.number == 1 and not report.mixed_guidelines


def test_job_run_twice_stores_one_report(
    team, project, manager, annotator, django_capture_on_commit_callbacks
):
    everyone = [annotator, *team]
    report = run_pilot(
        project, manager, everyone, agreeing, capture=django_capture_on_commit_callbacks
    )
    computed_at = report.computed_at
    compute_agreement_report(report.pk)  # a redelivered job: the report is not waiting
    report.refresh_from_db()
    assert report.computed_at == computed_at
    with django_capture_on_commit_callbacks(execute=True):
        services.agreement_report_request(batch=report.batch, by=manager)
        services.agreement_report_request(batch=report.batch, by=manager)
    assert AgreementReport.objects.filter(batch=report.batch).count() == 1
    report.refresh_from_db()
    assert report.status == "done" and report.computed_at > computed_at
    assert report.alpha == pytest.approx(1.0)


def test_reports_need_overlap_and_a_manager(team, project, manager, annotator):
    one = Item.objects.filter(project=project)[:1]
    batch = labelling.batch_create(project=project, by=manager, name="single", items=one, overlap=1)
    with pytest.raises(DomainError):
        services.agreement_report_request(batch=batch, by=manager)
    batch.overlap = 2
    with pytest.raises(PermissionDenied):
        services.agreement_report_request(batch=batch, by=annotator)


def test_sweep_requests_reports_of_complete_pilots_only(
    team, project, manager, annotator, django_capture_on_commit_callbacks
):
    everyone = [annotator, *team]
    batch = pilot_services.pilot_batch_create(project=project, by=manager, size=6)
    assert sweep_pilot_reports() == 0
    label_all(project, everyone, agreeing)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_pilot_reports() == 1
    assert sweep_pilot_reports() == 0
    assert AgreementReport.objects.get(batch=batch).status == "done"


# --- the pilot batch -------------------------------------------------------------------------


def test_pilot_is_stratified_by_weak_label_with_overlap_of_active_annotators(
    project, manager, annotator
):
    make_schema(project)
    make_items(
        project, 40, weak=lambda i: ["peacock"] if i < 20 else (["weasel"] if i < 30 else [])
    )
    others = add_annotators(project, 3)
    team_services.annotator_pause(project=project, by=manager, user=others[0])
    batch = pilot_services.pilot_batch_create(project=project, by=manager, seed=3)
    assert (batch.kind, batch.is_open, batch.overlap) == ("pilot", True, 3)
    weak = Counter(
        (w[0] if w else "")
        for w in Item.objects.filter(batch_items__batch=batch).values_list("weak_labels", flat=True)
    )
    assert weak == {"peacock": 5, "weasel": 3, "": 2} or weak == {"peacock": 5, "weasel": 2, "": 3}
    second = pilot_services.pilot_batch_create(project=project, by=manager, seed=3)
    overlap = set(second.batch_items.values_list("item_id", flat=True)) & set(
        batch.batch_items.values_list("item_id", flat=True)
    )
    assert not overlap, "a re-pilot is judged on fresh items"


def test_only_a_manager_starts_a_pilot_with_two_annotators(project, manager, annotator):
    make_schema(project)
    make_items(project, 10)
    with pytest.raises(PermissionDenied):
        pilot_services.pilot_batch_create(project=project, by=annotator)
    with pytest.raises(DomainError, match="two annotators"):
        pilot_services.pilot_batch_create(project=project, by=manager)


# --- gold and aggregation --------------------------------------------------------------------


def main_batch(project, manager, items, overlap: int = 3) -> Batch:
    return labelling.batch_create(
        project=project,
        by=manager,
        name="main",
        items=[i.pk for i in items],
        overlap=overlap,
        is_open=True,
    )


def test_dawid_skene_writes_final_labels_and_never_overwrites_reviewed(team, project, manager):
    items = list(Item.objects.filter(project=project).order_by("position")[:12])
    main_batch(project, manager, items)
    label_all(project, team, noisy(team, every=4))
    reviewed = items[0]
    Item.objects.filter(pk=reviewed.pk).update(
        final_label="unsure", final_confidence=1.0, final_rule="reviewed"
    )
    run = quality_services.labels_aggregate(project=project, by=manager, method="dawid_skene")
    assert (run.n_items, run.n_written, run.n_kept_reviewed) == (12, 11, 1)
    reviewed.refresh_from_db()
    assert (reviewed.final_label, reviewed.final_rule) == ("unsure", "reviewed")
    for item in Item.objects.filter(pk__in=[i.pk for i in items[1:]]):
        assert item.final_rule == "aggregated" and item.final_label == truth(item)
        assert 0.5 < item.final_confidence <= 1.0
    accuracies = {s["username"]: s["estimated_accuracy"] for s in run.annotator_stats}
    assert accuracies["ann2"] < accuracies["ann0"]


def test_majority_vote_and_gold_clamp(team, project, manager):
    items = list(Item.objects.filter(project=project).order_by("position")[:4])
    batch = main_batch(project, manager, items)
    label_all(project, team, agreeing)
    gold_item = batch.batch_items.get(item=items[0])
    quality_services.gold_answer_set(batch_item=gold_item, by=manager, answer="unsure")
    run = quality_services.labels_aggregate(project=project, by=manager, method="majority")
    assert run.n_gold == 1 and run.converged is None
    items[0].refresh_from_db()
    assert (items[0].final_label, items[0].final_confidence) == ("unsure", 1.0)
    items[1].refresh_from_db()
    assert items[1].final_label == truth(items[1])


def test_gold_answers_are_validated_and_low_accuracy_annotators_flagged(
    team, project, manager, annotator
):
    items = list(Item.objects.filter(project=project).order_by("position")[:6])
    batch = main_batch(project, manager, items)
    label_all(project, team, noisy(team, every=2))
    with pytest.raises(DomainError):
        quality_services.gold_answer_set(
            batch_item=batch.batch_items.first(), by=manager, answer="maybe"
        )
    with pytest.raises(PermissionDenied):
        quality_services.gold_answer_set(
            batch_item=batch.batch_items.first(), by=annotator, answer="yes"
        )
    for bi in batch.batch_items.select_related("item"):
        quality_services.gold_answer_set(batch_item=bi, by=manager, answer=truth(bi.item))
    assert GoldAnswer.objects.count() == 6
    roster = {r.username: r for r in quality_selectors.annotator_roster(project)}
    assert roster["ann0"].gold_accuracy == 1.0 and not roster["ann0"].flagged
    assert roster["ann2"].gold_accuracy == pytest.approx(0.5) and roster["ann2"].flagged
    assert roster["annotator"].n_judgements == 0 and roster["annotator"].gold_accuracy is None


def test_aggregation_is_a_managers_job(team, project, reviewer):
    with pytest.raises(PermissionDenied):
        quality_services.labels_aggregate(project=project, by=reviewer, method="majority")


def test_quality_settings_are_validated(project, manager, reviewer):
    settings = services.quality_settings_update(project=project, by=manager, alpha_threshold=0.8)
    assert settings.alpha_threshold == 0.8
    with pytest.raises(DomainError):
        services.quality_settings_update(project=project, by=manager, acceptance_threshold=1.5)
    with pytest.raises(PermissionDenied):
        services.quality_settings_update(project=project, by=reviewer, alpha_threshold=0.5)
    assert AggregationRun.objects.count() == 0
    assert np.isclose(settings.spot_check_percent, 5.0)


def test_report_queries_do_not_grow_with_the_number_of_items(team, project, manager, annotator):
    everyone = [annotator, *team]
    counts = []
    for size in (4, 16):
        batch = pilot_services.pilot_batch_create(project=project, by=manager, size=size, seed=2)
        label_all(project, everyone, noisy(everyone, every=2))
        labelling.batch_close(batch=batch, by=manager)
        report = AgreementReport.objects.create(project=project, batch=batch)
        with CaptureQueriesContext(connection) as queries:
            services.agreement_report_compute(report_id=report.pk)
        counts.append(len(queries))
    # One query for the judgements, whatever the size; the rest is fixed bookkeeping.
    assert counts[0] == counts[1] <= 12


def test_a_batch_without_judgements_gets_a_report_that_says_why(
    team, project, manager, django_capture_on_commit_callbacks
):
    items = Item.objects.filter(project=project)[:3]
    batch = labelling.batch_create(project=project, by=manager, name="b", items=items, overlap=2)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.agreement_report_request(batch=batch, by=manager)
    report.refresh_from_db()
    assert report.status == "done" and report.alpha is None
    assert "nothing to compare" in report.message
