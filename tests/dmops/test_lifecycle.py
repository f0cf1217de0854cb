from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from dmops import services
from dmops.errors import DomainError, GateNotMet
from dmops.models import StepEvent, StepState
from dmops.steps import CheckResult, checks_for, register_check
from tests.dmops.factories import COMPLETE_GOAL, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lifecycle_gates_only(monkeypatch):
    """These tests are about the lifecycle rules; other apps' gates have their own tests."""
    from dmops import steps

    own = {
        key: {k: c for k, c in checks.items() if c.evaluate.__module__ == "dmops.gates"}
        for key, checks in steps._REGISTRY.items()
    }
    monkeypatch.setattr(steps, "_REGISTRY", own)


def status_of(project, key):
    return StepState.objects.get(project=project, key=key).status


def sign_off_goal(project, manager):
    services.project_update(project=project, by=manager, **COMPLETE_GOAL)
    services.step_start(project=project, key=1, by=manager)
    services.step_sign_off(project=project, key=1, by=manager)


def test_new_project_has_twelve_steps_not_started_and_creator_is_manager(manager):
    project = services.project_create(name="P", created_by=manager)
    assert list(project.steps.values_list("key", "status")) == [
        (key, "not_started") for key in range(1, 13)
    ]
    assert project.is_manager(manager)


def test_project_needs_a_name(manager):
    with pytest.raises(DomainError, match="needs a name"):
        services.project_create(name="   ", created_by=manager)


def test_sign_off_refused_while_goal_check_fails_and_message_names_the_check(project, manager):
    services.step_start(project=project, key=1, by=manager)
    with pytest.raises(GateNotMet) as refused:
        services.step_sign_off(project=project, key=1, by=manager)
    message = " ".join(refused.value.messages)
    assert "The goal has a success metric" in message
    assert "business need" in message
    assert status_of(project, 1) == "in_progress"


def test_sign_off_passes_once_goal_is_complete(project, manager):
    sign_off_goal(project, manager)
    step = StepState.objects.get(project=project, key=1)
    assert (step.status, step.signed_off_by) == ("done", manager)


def test_sign_off_refused_while_an_earlier_step_is_not_done(project, manager):
    services.step_start(project=project, key=6, by=manager)
    with pytest.raises(DomainError, match="earlier steps are not done: 1, 2, 3, 4, 5"):
        services.step_sign_off(project=project, key=6, by=manager)


def test_steps_may_start_in_parallel_before_earlier_ones_are_signed_off(project, manager):
    services.step_start(project=project, key=4, by=manager)
    services.step_start(project=project, key=5, by=manager)
    assert (status_of(project, 4), status_of(project, 5)) == ("in_progress", "in_progress")


def test_skipped_earlier_steps_let_a_later_step_be_signed_off(project, manager):
    sign_off_goal(project, manager)
    for key in (2, 3, 4, 5):
        services.step_skip(project=project, key=key, by=manager, reason="Data already exists.")
    services.step_start(project=project, key=6, by=manager)
    services.step_sign_off(project=project, key=6, by=manager)
    assert status_of(project, 6) == "done"


def test_step_6_gate_needs_an_annotator(manager):
    project = ProjectFactory(manager=manager, **COMPLETE_GOAL)
    sign_off_goal(project, manager)
    for key in (2, 3, 4, 5):
        services.step_skip(project=project, key=key, by=manager, reason="n/a")
    services.step_start(project=project, key=6, by=manager)
    with pytest.raises(GateNotMet, match="no annotator"):
        services.step_sign_off(project=project, key=6, by=manager)


def test_skip_requires_a_reason(project, manager):
    with pytest.raises(DomainError, match="Say why"):
        services.step_skip(project=project, key=3, by=manager, reason="  ")
    assert status_of(project, 3) == "not_started"


def test_reopen_records_reason_and_sends_later_done_steps_back(project, manager):
    sign_off_goal(project, manager)
    for key in (2, 3):
        services.step_skip(project=project, key=key, by=manager, reason="n/a")
    services.step_start(project=project, key=4, by=manager)
    services.step_sign_off(project=project, key=4, by=manager)
    services.step_skip(project=project, key=5, by=manager, reason="later")

    services.step_reopen(project=project, key=1, by=manager, reason="Model found label errors")

    assert [status_of(project, k) for k in range(1, 6)] == [
        "in_progress",
        "skipped",  # skipped steps stay skipped: nothing in them was signed off
        "skipped",
        "in_progress",
        "skipped",
    ]
    event = StepEvent.objects.filter(kind="reopened").get()
    assert (event.note, event.affected_steps, event.step.key) == (
        "Model found label errors",
        [4],
        1,
    )


def test_reopen_requires_a_reason_and_a_closed_step(project, manager):
    sign_off_goal(project, manager)
    with pytest.raises(DomainError, match="Say why"):
        services.step_reopen(project=project, key=1, by=manager, reason="")
    with pytest.raises(DomainError, match="nothing to reopen"):
        services.step_reopen(project=project, key=2, by=manager, reason="why not")


def test_every_transition_writes_exactly_one_event(project, manager):
    services.project_update(project=project, by=manager, **COMPLETE_GOAL)
    transitions = [
        lambda: services.step_start(project=project, key=1, by=manager),
        lambda: services.step_sign_off(project=project, key=1, by=manager),
        lambda: services.step_skip(project=project, key=2, by=manager, reason="r"),
        lambda: services.step_reopen(project=project, key=1, by=manager, reason="r"),
        lambda: services.step_assign(project=project, key=3, by=manager, owner=manager),
    ]
    for transition in transitions:
        before = StepEvent.objects.count()
        transition()
        assert StepEvent.objects.count() == before + 1


def test_refused_transition_writes_no_event(project, manager):
    services.step_start(project=project, key=1, by=manager)
    before = StepEvent.objects.count()
    with pytest.raises(GateNotMet):
        services.step_sign_off(project=project, key=1, by=manager)
    assert StepEvent.objects.count() == before


@pytest.mark.parametrize("persona", ["reviewer", "annotator", "outsider"])
def test_only_managers_change_steps(project, personas, persona):
    with pytest.raises(PermissionDenied, match="Only a project manager"):
        services.step_start(project=project, key=1, by=personas[persona])
    assert status_of(project, 1) == "not_started"


def test_signing_off_the_last_step_completes_the_project(project, manager):
    sign_off_goal(project, manager)
    for key in range(2, 12):
        services.step_skip(project=project, key=key, by=manager, reason="demo")
    services.step_start(project=project, key=12, by=manager)
    services.step_sign_off(project=project, key=12, by=manager)
    project.refresh_from_db()
    assert project.completed_at is not None
    services.step_reopen(project=project, key=12, by=manager, reason="one more release")
    project.refresh_from_db()
    assert project.completed_at is None


def test_registered_checks_gate_their_step(project, manager):
    @register_check(3, "test_only_probe", "A probe check")
    def probe(p):
        return CheckResult(False, "probe says no")

    sign_off_goal(project, manager)
    services.step_skip(project=project, key=2, by=manager, reason="n/a")
    services.step_start(project=project, key=3, by=manager)
    with pytest.raises(GateNotMet, match="A probe check — probe says no"):
        services.step_sign_off(project=project, key=3, by=manager)
    assert "test_only_probe" in [c.key for c in checks_for(3)]


def test_members_add_and_remove_rules(project, manager, annotator):
    newcomer = UserFactory(username="newcomer")
    services.member_add(project=project, by=manager, username="newcomer", role="reviewer")
    assert project.role_of(newcomer) == "reviewer"
    with pytest.raises(DomainError, match="already a member"):
        services.member_add(project=project, by=manager, username="newcomer", role="annotator")
    with pytest.raises(DomainError, match="No user is called"):
        services.member_add(project=project, by=manager, username="ghost", role="annotator")
    with pytest.raises(DomainError, match="Unknown role"):
        services.member_add(project=project, by=manager, username="outsider", role="boss")
    with pytest.raises(PermissionDenied):
        services.member_add(project=project, by=annotator, username="outsider", role="annotator")
    with pytest.raises(DomainError, match="at least one manager"):
        services.member_remove(project=project, by=manager, user=manager)
    services.member_remove(project=project, by=manager, user=newcomer)
    assert project.role_of(newcomer) is None


def test_assign_owner_must_be_a_member(project, manager, outsider):
    with pytest.raises(DomainError, match="not a member"):
        services.step_assign(project=project, key=2, by=manager, owner=outsider)
