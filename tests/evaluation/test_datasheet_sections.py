"""The release datasheet's quality sections written by evaluation (evaluation/datasheet.py):
agreement with CIs, review acceptance, model verification, and what blocks step 12."""

from __future__ import annotations

import numpy as np
import pytest
from django.utils import timezone

from annotation.models import Batch
from annotation.services import datasheet
from dmops.steps import evaluate_checks
from evaluation.agreement import agreement_report
from evaluation.models import AgreementReport, VerificationRun
from tests.annotation.test_releases import create_release, make_annotated_project

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def annotated(project, manager):
    return make_annotated_project(project, manager)


def section(release, key):
    return next(s for s in release.datasheet["sections"] if s["key"] == key)


def gate(project):
    return {o.check.key: o for o in evaluate_checks(project, 12)}["release_datasheet"]


def pilot(project, *, name="pilot 1", done=True) -> AgreementReport:
    batch = Batch.objects.create(project=project, name=name, kind=Batch.Kind.PILOT, overlap=3)
    # Three annotators on 20 items who agree on all but two: figures from the real computation.
    matrix = np.tile(np.arange(20)[:, None] % 2, (1, 3))
    matrix[3, 2] = 1 - matrix[3, 2]
    matrix[11, 0] = 1 - matrix[11, 0]
    results = agreement_report(matrix, ["yes", "no"], n_resamples=200, seed=0)
    return AgreementReport.objects.create(
        project=project,
        batch=batch,
        status=AgreementReport.Status.DONE if done else AgreementReport.Status.PENDING,
        alpha=results["krippendorff_alpha"]["value"],
        n_items=20,
        n_annotators=3,
        n_judgements=60,
        results=results if done else {},
        computed_at=timezone.now() if done else None,
    )


def test_the_sections_are_registered_before_known_limitations():
    keys = [s.key for s in datasheet.sections()]
    assert keys.index("agreement") < keys.index("limitations")
    assert {"agreement", "review", "verification"} <= set(keys)


def test_pilot_agreement_is_shown_with_its_confidence_interval(project, manager, annotated):
    report = pilot(project)
    release = create_release(project, manager)
    agreement = section(release, "agreement")
    assert agreement["mandatory"] and not agreement["empty"]
    (entry,) = agreement["data"]["pilots"]
    alpha = report.results["krippendorff_alpha"]
    assert entry["krippendorff_alpha"] == {
        "value": alpha["value"],
        "ci_low": alpha["ci"]["low"],
        "ci_high": alpha["ci"]["high"],
    }
    assert alpha["ci"]["low"] < alpha["value"] <= alpha["ci"]["high"]
    assert f"{alpha['value']:.3f} (95% CI {alpha['ci']['low']:.3f}" in agreement["markdown"]
    assert "Gwet's AC1" in agreement["markdown"]
    assert gate(project).passed


def test_main_batch_reports_are_listed_after_the_pilots(project, manager, annotated):
    pilot(project)
    other = pilot(project, name="main 1")
    Batch.objects.filter(pk=other.batch_id).update(kind=Batch.Kind.MAIN)
    data = section(create_release(project, manager), "agreement")["data"]
    assert [e["batch"] for e in data["pilots"]] == ["pilot 1"]
    assert [e["batch"] for e in data["batches"]] == ["main 1"]


def test_a_pilot_without_figures_leaves_agreement_empty_and_blocks_step_12(
    project, manager, annotated
):
    pilot(project, done=False)
    release = create_release(project, manager)
    agreement = section(release, "agreement")
    assert agreement["mandatory"] and agreement["empty"]
    assert datasheet.datasheet_missing(release.datasheet) == ["Inter-annotator agreement"]
    result = gate(project)
    assert not result.passed and "Inter-annotator agreement" in result.result.detail


def test_without_a_pilot_agreement_says_not_measured_and_is_not_mandatory(
    project, manager, annotated
):
    release = create_release(project, manager)
    agreement = section(release, "agreement")
    assert not agreement["mandatory"] and not agreement["empty"]
    assert agreement["markdown"].startswith("Not measured")
    assert gate(project).passed


def test_review_acceptance_counts_the_spot_checks(project, manager, annotated):
    # make_annotated_project decided three spot checks: accept, correct, send back.
    review = section(create_release(project, manager), "review")
    assert not review["mandatory"]
    assert review["data"]["accepted"] == 1 and review["data"]["decided"] == 3
    assert "1 of 3 decided accepted as labelled (33%)" in review["markdown"]


def test_sections_that_did_not_run_say_so(project, manager, annotated):
    from annotation.models import Review

    Review.objects.all().delete()
    release = create_release(project, manager)
    assert section(release, "review")["markdown"].startswith("Not run")
    assert section(release, "verification")["markdown"].startswith("Not run")
    assert datasheet.datasheet_missing(release.datasheet) == []


def test_the_latest_verification_run_and_its_findings_are_reported(project, manager, annotated):
    VerificationRun.objects.create(
        project=project,
        status=VerificationRun.Status.DONE,
        model_revision="minilm@abc",
        macro_f1=0.81,
        finished_at=timezone.now(),
        findings_note="Label 'no' is overused on short sentences; re-annotated 12 items.",
        report={
            "n_items": 36,
            "learnability": {
                "macro_f1": 0.81,
                "accuracy": 0.83,
                "baselines": {"majority": {"macro_f1": 0.4}},
            },
            "learning_curve": {"reading": "Still rising: more data would help."},
            "suspicious": [{"item_id": 1}, {"item_id": 2}],
        },
    )
    verification = section(create_release(project, manager), "verification")
    data = verification["data"]
    assert (data["macro_f1"], data["majority_baseline_macro_f1"], data["suspicious_listed"]) == (
        0.81,
        0.4,
        2,
    )
    md = verification["markdown"]
    assert "macro-F1 0.810 (majority baseline 0.400)" in md
    assert "Still rising" in md and "re-annotated 12 items" in md


def test_datasheet_markdown_includes_the_quality_sections(project, manager, annotated):
    pilot(project)
    markdown = datasheet.datasheet_markdown(create_release(project, manager))
    for title in ("Inter-annotator agreement", "Review acceptance", "Model verification"):
        assert f"## {title}" in markdown
    assert markdown.index("## Model verification") < markdown.index("## Known limitations")
