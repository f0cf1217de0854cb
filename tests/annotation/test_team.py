"""Step 6 services and the roster: inviting, accepting, pausing (with its leases), statuses."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from annotation import queue
from annotation.models import (
    AnnotatorState,
    Invitation,
    Lease,
    QualificationRule,
    TrainingAttempt,
)
from annotation.selectors import team as selectors
from annotation.services import labelling
from annotation.services import team as services
from dmops import services as dmops_services
from dmops.errors import DomainError
from dmops.models import Membership
from tests.annotation.builders import annotators_on, make_batch, make_items
from tests.dmops.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def invite(project, by, identifier, role="annotator"):
    return services.member_invite(project=project, by=by, identifier=identifier, role=role)


def status_of(project, user) -> str | None:
    return next(r.status for r in selectors.roster(project).rows if r.user_id == user.pk)


# --- inviting ---------------------------------------------------------------------------------


def test_inviting_an_existing_username_adds_them_at_once_as_invited(project, manager):
    UserFactory(username="Ana")
    membership = invite(project, manager, "  ana  ")
    assert (membership.user.username, membership.role) == ("Ana", "annotator")
    state = AnnotatorState.objects.get(project=project, user=membership.user)
    assert state.joined_at is None and not state.paused
    assert status_of(project, membership.user) == selectors.Status.INVITED
    assert not Invitation.objects.exists()


def test_inviting_the_email_of_an_account_adds_that_account(project, manager):
    user = UserFactory(username="bo", email="Bo@Example.org")
    membership = invite(project, manager, "bo@example.ORG", role="reviewer")
    assert (membership.user, membership.role) == (user, "reviewer")
    assert not AnnotatorState.objects.filter(user=user).exists()  # statuses are annotators'


def test_inviting_an_email_without_account_creates_a_pending_invitation(project, manager):
    invitation = invite(project, manager, "New.Person@Example.org")
    assert isinstance(invitation, Invitation)
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "new.person@example.org",
        "annotator",
        manager,
    )
    assert len(invitation.token) >= 32
    assert services.invitation_status(invitation) == "pending"
    assert [i.pk for i in selectors.roster(project).pending_invitations] == [invitation.pk]
    assert project.memberships.count() == 3


def test_a_second_pending_invitation_to_the_same_address_is_refused(project, manager):
    invite(project, manager, "x@example.org")
    with pytest.raises(DomainError, match="already been invited"):
        invite(project, manager, "X@example.org", role="reviewer")


def test_unknown_username_is_refused_with_a_hint(project, manager):
    with pytest.raises(DomainError) as caught:
        invite(project, manager, "nobody")
    assert caught.value.messages == [
        "No user called nobody; invite by e-mail to add someone without an account."
    ]


def test_inviting_a_member_again_is_refused(project, manager, annotator):
    with pytest.raises(DomainError, match="already a member"):
        invite(project, manager, "ANNOTATOR", role="reviewer")
    assert Membership.objects.get(project=project, user=annotator).role == "annotator"


def test_unknown_role_is_refused(project, manager, outsider):
    with pytest.raises(DomainError, match="Unknown role"):
        invite(project, manager, outsider.username, role="owner")
    assert not project.memberships.filter(user=outsider).exists()


@pytest.mark.parametrize("persona", ["reviewer", "annotator", "outsider"])
def test_only_managers_invite(project, personas, persona):
    with pytest.raises(PermissionDenied):
        invite(project, personas[persona], "someone@example.org")
    assert not Invitation.objects.exists()


# --- accepting and revoking -------------------------------------------------------------------


def test_accepting_with_the_invited_email_makes_a_member_who_has_joined(project, manager):
    invitation = invite(project, manager, "cy@example.org")
    cy = UserFactory(username="cy", email="CY@example.org")
    membership = services.invitation_accept(token=invitation.token, user=cy)
    assert (membership.project, membership.role) == (project, "annotator")
    invitation.refresh_from_db()
    assert invitation.accepted_by == cy and invitation.accepted_at is not None
    assert AnnotatorState.objects.get(project=project, user=cy).joined_at is not None
    assert status_of(project, cy) == selectors.Status.JOINED
    assert selectors.roster(project).pending_invitations == []


def test_accepting_with_another_email_is_refused_and_changes_nothing(project, manager):
    invitation = invite(project, manager, "cy@example.org")
    other = UserFactory(username="dee", email="dee@example.org")
    with pytest.raises(DomainError, match="another e-mail address"):
        services.invitation_accept(token=invitation.token, user=other)
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert not project.memberships.filter(user=other).exists()


def test_an_account_without_email_cannot_accept(project, manager):
    invitation = invite(project, manager, "cy@example.org")
    with pytest.raises(DomainError, match="another e-mail address"):
        services.invitation_accept(token=invitation.token, user=UserFactory(username="noemail"))


def test_used_withdrawn_and_unknown_links_are_refused(project, manager):
    used = invite(project, manager, "cy@example.org")
    cy = UserFactory(username="cy", email="cy@example.org")
    services.invitation_accept(token=used.token, user=cy)
    with pytest.raises(DomainError, match="already been used"):
        services.invitation_accept(token=used.token, user=cy)
    withdrawn = invite(project, manager, "dee@example.org")
    services.invitation_revoke(invitation=withdrawn, by=manager)
    dee = UserFactory(username="dee", email="dee@example.org")
    with pytest.raises(DomainError, match="withdrawn"):
        services.invitation_accept(token=withdrawn.token, user=dee)
    with pytest.raises(DomainError, match="not valid"):
        services.invitation_accept(token="no-such-token", user=dee)
    assert not project.memberships.filter(user=dee).exists()


def test_only_managers_revoke_and_only_pending_invitations(project, manager, reviewer):
    invitation = invite(project, manager, "cy@example.org")
    with pytest.raises(PermissionDenied):
        services.invitation_revoke(invitation=invitation, by=reviewer)
    services.invitation_revoke(invitation=invitation, by=manager)
    with pytest.raises(DomainError, match="already revoked"):
        services.invitation_revoke(invitation=invitation, by=manager)


# --- pausing ----------------------------------------------------------------------------------


def test_pausing_releases_open_leases_so_another_annotator_gets_the_item(
    project, manager, annotator
):
    make_batch(project, make_items(project, 1), overlap=1)
    other = annotators_on(project, 1)[0]
    held = queue.next_item(project=project, annotator=annotator)
    assert queue.next_item(project=project, annotator=other) is None  # the one slot is held

    services.annotator_pause(project=project, by=manager, user=annotator)

    assert Lease.objects.get(pk=held.pk).state == Lease.State.RELEASED
    assert queue.next_item(project=project, annotator=annotator) is None
    given = queue.next_item(project=project, annotator=other)
    assert given is not None and given.batch_item_id == held.batch_item_id


def test_resuming_leaves_leases_alone_and_the_released_item_never_returns(
    project, manager, annotator
):
    make_batch(project, make_items(project, 2), overlap=1)
    held = queue.next_item(project=project, annotator=annotator)
    services.annotator_pause(project=project, by=manager, user=annotator)
    services.annotator_pause(project=project, by=manager, user=annotator, paused=False)
    assert Lease.objects.get(pk=held.pk).state == Lease.State.RELEASED
    again = queue.next_item(project=project, annotator=annotator)
    assert again is not None and again.batch_item_id != held.batch_item_id


def test_pausing_touches_only_this_projects_leases(project, manager, annotator):
    make_batch(project, make_items(project, 1))
    elsewhere = ProjectFactory(manager=manager, annotators=[annotator], name="Other")
    make_batch(elsewhere, make_items(elsewhere, 1, prefix="Other"))
    here = queue.next_item(project=project, annotator=annotator)
    there = queue.next_item(project=elsewhere, annotator=annotator)
    services.annotator_pause(project=project, by=manager, user=annotator)
    assert Lease.objects.get(pk=here.pk).state == Lease.State.RELEASED
    assert Lease.objects.get(pk=there.pk).state == Lease.State.ACTIVE


def test_a_released_lease_cannot_be_submitted(project, manager, annotator):
    make_batch(project, make_items(project, 1))
    held = queue.next_item(project=project, annotator=annotator)
    services.annotator_pause(project=project, by=manager, user=annotator)
    with pytest.raises(labelling.LeaseClosed):
        labelling.annotation_submit(lease=held, by=annotator, answer="yes")


def test_removing_a_member_puts_the_items_they_hold_back_in_the_pool(project, manager):
    make_batch(project, make_items(project, 1), overlap=1)
    leaver, other = annotators_on(project, 2)
    elsewhere = ProjectFactory(manager=manager, annotators=[leaver], name="Other")
    make_batch(elsewhere, make_items(elsewhere, 1, prefix="Other"))
    held = queue.next_item(project=project, annotator=leaver)
    there = queue.next_item(project=elsewhere, annotator=leaver)
    assert queue.next_item(project=project, annotator=other) is None  # the one slot is held

    dmops_services.member_remove(project=project, by=manager, user=leaver)

    assert Lease.objects.get(pk=held.pk).state == Lease.State.RELEASED
    assert Lease.objects.get(pk=there.pk).state == Lease.State.ACTIVE  # another project's
    given = queue.next_item(project=project, annotator=other)
    assert given is not None and given.batch_item_id == held.batch_item_id


def test_pausing_a_non_member_is_refused(project, manager, outsider):
    with pytest.raises(DomainError, match="not a member"):
        services.annotator_pause(project=project, by=manager, user=outsider)


# --- roster -----------------------------------------------------------------------------------


def attempt(project, user, number, *, correct, total, passed):
    return TrainingAttempt.objects.create(
        project=project,
        annotator=user,
        number=number,
        correct=correct,
        total=total,
        passed=passed,
        finished_at=timezone.now(),
    )


def test_roster_statuses_follow_an_annotator_through_the_lifecycle(project, manager):
    QualificationRule.objects.create(project=project, min_correct=2)
    make_batch(project, make_items(project, 2), overlap=1)
    eve = UserFactory(username="eve")
    invite(project, manager, "eve")
    assert status_of(project, eve) == "invited"

    AnnotatorState.objects.filter(project=project, user=eve).update(joined_at=timezone.now())
    assert status_of(project, eve) == "joined"

    attempt(project, eve, 1, correct=1, total=3, passed=False)
    assert status_of(project, eve) == "in_training"
    assert queue.next_item(project=project, annotator=eve) is None  # not qualified yet

    attempt(project, eve, 2, correct=3, total=3, passed=True)
    AnnotatorState.objects.filter(project=project, user=eve).update(qualified_at=timezone.now())
    assert status_of(project, eve) == "qualified"

    lease = queue.next_item(project=project, annotator=eve)
    labelling.annotation_submit(lease=lease, by=eve, answer="yes")
    row = next(r for r in selectors.roster(project).rows if r.user_id == eve.pk)
    assert (row.status, row.attempts, row.last_score, row.annotations) == (
        "active",
        2,
        (3, 3),
        1,
    )
    assert row.last_activity is not None

    services.annotator_pause(project=project, by=manager, user=eve)
    assert status_of(project, eve) == "paused"


def test_without_a_rule_an_annotator_who_labels_is_active(project, annotator, reviewer, manager):
    make_batch(project, make_items(project, 1))
    lease = queue.next_item(project=project, annotator=annotator)
    labelling.annotation_submit(lease=lease, by=annotator, answer="no")
    rows = {r.username: r for r in selectors.roster(project).rows}
    assert rows["annotator"].status == "active" and rows["annotator"].annotations == 1
    assert rows["reviewer"].status is None and rows["manager"].status is None


def test_roster_counts_only_this_projects_work(project, manager, annotator):
    elsewhere = ProjectFactory(manager=manager, annotators=[annotator], name="Other")
    make_batch(elsewhere, make_items(elsewhere, 1))
    lease = queue.next_item(project=elsewhere, annotator=annotator)
    labelling.annotation_submit(lease=lease, by=annotator, answer="yes")
    attempt(elsewhere, annotator, 1, correct=1, total=1, passed=True)
    row = next(r for r in selectors.roster(project).rows if r.user_id == annotator.pk)
    assert (row.annotations, row.attempts, row.last_score, row.status) == (0, 0, None, "invited")


@pytest.mark.parametrize("extra", [0, 6])
def test_roster_takes_three_queries_however_many_members(
    project, manager, extra, django_assert_num_queries, monkeypatch
):
    for user in annotators_on(project, extra):
        attempt(project, user, 1, correct=1, total=2, passed=False)
    invite(project, manager, "pending@example.org")
    # The roster's own reads; flag sources other apps register (evaluation's gold accuracy)
    # add their own fixed number of queries on top.
    monkeypatch.setattr(selectors, "_FLAG_SOURCES", [])
    with django_assert_num_queries(3):
        roster = selectors.roster(project)
    assert len(roster.rows) == 3 + extra and len(roster.pending_invitations) == 1


def test_registered_flag_sources_mark_annotators_on_the_roster(
    project, manager, annotator, monkeypatch
):
    monkeypatch.setattr(selectors, "_FLAG_SOURCES", [])
    selectors.register_roster_flags(lambda p: {annotator.pk: "answers never vary"})
    selectors.register_roster_flags(lambda p: {manager.pk: "managers are not flagged"})
    rows = {row.username: row for row in selectors.roster(project).rows}
    assert rows[annotator.username].flags == ("answers never vary",)
    assert rows[manager.username].flags == ()


def test_active_unqualified_annotators_leaves_out_paused_qualified_and_other_roles(
    project, manager, annotator
):
    qualified, paused, waiting = annotators_on(project, 3)
    AnnotatorState.objects.create(project=project, user=qualified, qualified_at=timezone.now())
    services.annotator_pause(project=project, by=manager, user=paused)
    other = ProjectFactory(manager=manager, annotators=[waiting], name="Other")
    AnnotatorState.objects.create(project=other, user=waiting, qualified_at=timezone.now())
    names = list(
        selectors.active_unqualified_annotators(project).values_list("username", flat=True)
    )
    assert names == sorted([annotator.username, waiting.username])
