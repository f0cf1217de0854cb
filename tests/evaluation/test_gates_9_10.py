"""Gate checks of steps 9 (pilot agreement) and 10 (spot checks), and what they unlock."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from annotation.models import Batch, Item, Review
from annotation.services import labelling
from dmops import services as dmops_services
from dmops.errors import DomainError, GateNotMet
from dmops.steps import checks_for, evaluate_checks
from evaluation.services import agreement as services
from evaluation.services import review as review_services
from tests.evaluation.test_agreement_service import (
    agreeing,
    noisy,
    publish,
    run_pilot,
    setup_team,
    truth,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(project, manager):
    return setup_team(project, manager)


def gate9(project):
    (outcome,) = [o for o in evaluate_checks(project, 9) if o.check.key == "pilot_agreement"]
    return outcome.result


def gate10(project):
    (outcome,) = [o for o in evaluate_checks(project, 10) if o.check.key == "spot_check_accepted"]
    return outcome.result


def test_evaluation_registers_its_checks_for_steps_9_and_10():
    assert "pilot_agreement" in {c.key for c in checks_for(9)}
    assert "spot_check_accepted" in {c.key for c in checks_for(10)}


def test_gate_9_fails_without_a_completed_pilot(team, project):
    result = gate9(project)
    assert not result.passed and "No pilot" in result.detail


def test_gate_9_fails_below_threshold_and_passes_above(
    team, project, manager, annotator, django_capture_on_commit_callbacks
):
    everyone = [annotator, *team]
    report = run_pilot(
        project,
        manager,
        everyone,
        noisy(everyone, every=2),
        capture=django_capture_on_commit_callbacks,
    )
    assert report.alpha < 0.667
    result = gate9(project)
    assert not result.passed and "Revise the guideline" in result.detail
    # A threshold the manager lowers applies at once: the gate reads the current setting.
    services.quality_settings_update(project=project, by=manager, alpha_threshold=-1)
    assert gate9(project).passed
    services.quality_settings_update(project=project, by=manager, alpha_threshold=0.667)
    run_pilot(project, manager, everyone, agreeing, capture=django_capture_on_commit_callbacks)
    result = gate9(project)
    assert result.passed and "reliable" in result.detail and "guideline v1" in result.detail


def test_a_guideline_revision_after_a_failing_pilot_needs_a_new_passing_pilot(
    team, project, manager, annotator, django_capture_on_commit_callbacks
):
    everyone = [annotator, *team]
    run_pilot(
        project,
        manager,
        everyone,
        noisy(everyone, every=2),
        capture=django_capture_on_commit_callbacks,
    )
    publish(project, manager, "Clarified: opinions never need a citation.")
    result = gate9(project)
    assert not result.passed and "revised to v2" in result.detail
    report = run_pilot(
        project, manager, everyone, agreeing, capture=django_capture_on_commit_callbacks
    )
    assert report.guideline_version.number == 2
    assert gate9(project).passed
    # A revision after a passing pilot (addressing its few disagreements) keeps the gate open.
    publish(project, manager, "Examples added.")
    result = gate9(project)
    assert result.passed and "revised since to v3" in result.detail


def test_a_pilot_labelled_across_a_guideline_change_does_not_pass(
    team, project, manager, annotator, django_capture_on_commit_callbacks
):
    from annotation.services import pilot as pilot_services
    from tests.evaluation.test_agreement_service import label_all

    batch = pilot_services.pilot_batch_create(project=project, by=manager, size=4, seed=1)
    label_all(project, [annotator, team[0]], agreeing)
    publish(project, manager, "Changed mid-pilot.")
    label_all(project, team[1:], agreeing)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.agreement_report_request(batch=batch, by=manager)
    report.refresh_from_db()
    assert report.mixed_guidelines and report.guideline_version.number == 2
    result = gate9(project)
    assert not result.passed and "more than one guideline version" in result.detail


def test_step_9_sign_off_and_opening_main_batches_wait_for_the_gate(
    team, project, manager, annotator, django_capture_on_commit_callbacks
):
    everyone = [annotator, *team]
    items = [i.pk for i in Item.objects.filter(project=project)[:5]]
    main = labelling.batch_create(project=project, by=manager, name="main", items=items)
    for key in range(1, 9):
        dmops_services.step_skip(project=project, key=key, by=manager, reason="test")
    dmops_services.step_start(project=project, key=9, by=manager)
    with pytest.raises(GateNotMet):
        dmops_services.step_sign_off(project=project, key=9, by=manager)
    with pytest.raises(DomainError, match="pilot has not passed"):
        services.main_batches_open(project=project, by=manager)
    run_pilot(project, manager, everyone, agreeing, capture=django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied):
        services.main_batches_open(project=project, by=annotator)
    opened = services.main_batches_open(project=project, by=manager)
    assert [b.pk for b in opened] == [main.pk]
    assert Batch.objects.get(pk=main.pk).is_open
    dmops_services.step_sign_off(project=project, key=9, by=manager)


# --- step 10 ---------------------------------------------------------------------------------


def _labelled(project, n: int) -> list[Item]:
    items = list(Item.objects.filter(project=project).order_by("position")[:n])
    for item in items:
        Item.objects.filter(pk=item.pk).update(
            final_label=truth(item), final_confidence=1.0, final_rule="aggregated"
        )
    return items


def test_gate_10_needs_a_fully_reviewed_spot_check_meeting_the_acceptance_rate(
    team, project, manager, reviewer
):
    assert "No spot-check" in gate10(project).detail
    services.quality_settings_update(
        project=project, by=manager, spot_check_percent=10, acceptance_threshold=0.75
    )
    _labelled(project, 40)
    fill = review_services.review_queue_fill(project=project, by=reviewer)
    assert fill.spot_check == 4
    spot = list(Review.objects.filter(reason="spot_check"))
    review_services.review_decide(review=spot[0], by=reviewer, decision="accept")
    result = gate10(project)
    assert not result.passed and "3 of 4 spot checks are still to review" in result.detail
    review_services.review_decide(
        review=spot[1], by=reviewer, decision="correct", label="unsure", note="hedged"
    )
    review_services.review_decide(review=spot[2], by=reviewer, decision="accept")
    review_services.review_decide(
        review=spot[3], by=reviewer, decision="send_back", note="Read the whole paragraph."
    )
    result = gate10(project)
    assert not result.passed and "2 of 4 accepted (50%)" in result.detail
    services.quality_settings_update(project=project, by=manager, acceptance_threshold=0.5)
    assert gate10(project).passed
