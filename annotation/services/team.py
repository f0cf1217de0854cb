"""Step 6: who works on a project. Inviting people, accepting invitations, pausing annotators.

Adding an existing account reuses ``dmops.services.member_add`` (the one place memberships are
made by a manager); an invitation makes the membership itself when accepted, because the rule
there is "the invitation's address is yours", not "you manage the project".
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from annotation import queue
from annotation.models import AnnotatorState, BatchItem, Invitation, Lease
from dmops import services as dmops_services
from dmops.errors import DomainError
from dmops.models import Membership, Project

User = get_user_model()


def _require_manager(project: Project, user, action: str) -> None:
    if not project.is_manager(user):
        raise PermissionDenied(f"Only a project manager can {action}.")


def _is_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def _user_for(identifier: str):
    """The account called ``identifier`` (case-insensitive), else the one account using it as
    its e-mail; None when nobody does. Usernames win: Django allows "@" in them."""
    by_name = (
        User.objects.filter(username=identifier).first()
        or User.objects.filter(username__iexact=identifier).order_by("pk").first()
    )
    if by_name is not None:
        return by_name
    if not _is_email(identifier):
        return None
    by_email = list(User.objects.filter(email__iexact=identifier)[:2])
    if len(by_email) > 1:
        raise DomainError(
            {"identifier": "Several accounts use this e-mail; invite one of them by username."}
        )
    return by_email[0] if by_email else None


def _annotator_state_ensure(project: Project, user, *, joined: bool) -> AnnotatorState:
    state, _ = AnnotatorState.objects.get_or_create(project=project, user=user)
    if joined and state.joined_at is None:
        state.joined_at = timezone.now()
        state.save(update_fields=["joined_at", "updated_at"])
    return state


@transaction.atomic
def member_invite(*, project: Project, by, identifier: str, role: str) -> Membership | Invitation:
    """A manager invites someone by username or e-mail. An existing account becomes a member at
    once (an annotator shows as *invited* until they first open the project); an e-mail with no
    account gets a pending Invitation whose link makes whoever signs in with that address a
    member. Anything else is refused, as is inviting a member or an address already invited."""
    _require_manager(project, by, "invite people")
    if role not in Membership.Role.values:
        raise DomainError({"role": f"Unknown role {role!r}; use manager, reviewer or annotator."})
    identifier = identifier.strip()
    if not identifier:
        raise DomainError({"identifier": "Give a username or an e-mail address."})
    user = _user_for(identifier)
    if user is not None:
        try:
            membership = dmops_services.member_add(
                project=project, by=by, username=user.username, role=role
            )
        except DomainError as exc:
            raise DomainError({"identifier": exc.messages}) from exc
        if role == Membership.Role.ANNOTATOR:
            _annotator_state_ensure(project, user, joined=False)
        return membership
    if not _is_email(identifier):
        raise DomainError(
            {
                "identifier": f"No user called {identifier}; invite by e-mail to add someone "
                "without an account."
            }
        )
    email = identifier.lower()
    if Invitation.objects.filter(
        project=project, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).exists():
        raise DomainError({"identifier": f"{email} has already been invited to this project."})
    return Invitation.objects.create(
        project=project,
        email=email,
        role=role,
        token=secrets.token_urlsafe(32),
        invited_by=by,
    )


def invitation_status(invitation: Invitation) -> str:
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.accepted_at is not None:
        return "accepted"
    return "pending"


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    """The signed-in user whose e-mail is the invitation's (case-insensitive) becomes a member
    with the invitation's role. A withdrawn, used or unknown link, or another address, is
    refused and changes nothing. Opening the link counts as joining the project."""
    invitation = (
        Invitation.objects.select_for_update().select_related("project").filter(token=token).first()
    )
    if invitation is None:
        raise DomainError("This invitation link is not valid.")
    status = invitation_status(invitation)
    if status == "revoked":
        raise DomainError("This invitation was withdrawn by a project manager.")
    if status == "accepted":
        raise DomainError("This invitation has already been used.")
    if not user.email or user.email.strip().lower() != invitation.email.lower():
        raise DomainError(
            "This invitation was sent to another e-mail address than your account's. "
            "Sign in with the account that uses that address, or ask for a new invitation."
        )
    project = invitation.project
    if Membership.objects.filter(project=project, user=user).exists():
        raise DomainError(f"You are already a member of {project.name}.")
    membership = Membership.objects.create(project=project, user=user, role=invitation.role)
    if invitation.role == Membership.Role.ANNOTATOR:
        _annotator_state_ensure(project, user, joined=True)
    invitation.accepted_by, invitation.accepted_at = user, timezone.now()
    invitation.save(update_fields=["accepted_by", "accepted_at"])
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by) -> Invitation:
    """A manager withdraws a pending invitation; its link stops working."""
    _require_manager(invitation.project, by, "withdraw invitations")
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    status = invitation_status(invitation)
    if status != "pending":
        raise DomainError(f"This invitation is already {status}.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


@transaction.atomic
def annotator_pause(*, project: Project, by, user, paused: bool = True) -> AnnotatorState:
    """A manager pauses (or resumes) a member: a paused annotator is given no new items, and
    pausing releases the leases they hold in the project so those slots go back to the pool at
    once instead of at expiry. Resuming leaves leases alone."""
    _require_manager(project, by, "pause annotators")
    if not Membership.objects.filter(project=project, user=user).exists():
        raise DomainError(f"{user} is not a member of this project.")
    if paused:
        _hold_back_next_item(user)
    state, _ = AnnotatorState.objects.update_or_create(
        project=project, user=user, defaults={"paused": paused}
    )
    if paused:
        _leases_release_all(project, user)
    return state


def member_leases_release(project: Project, user) -> None:
    """Someone left the project (``dmops.services.member_remove``, which calls this in its
    transaction): the items they hold go back to the pool at once instead of at expiry."""
    _hold_back_next_item(user)
    _leases_release_all(project, user)


def _hold_back_next_item(user) -> None:
    """PostgreSQL: wait for a lease being handed out to ``user`` now, and hold back the next
    ones until the caller's transaction commits (queue.PAUSE_LOCK_CLASS)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [queue.PAUSE_LOCK_CLASS, user.pk]
            )


def _leases_release_all(project: Project, user) -> int:
    """Release ``user``'s active leases in ``project``. Locks batch items first, then leases,
    the order the queue and the labelling services use, so this never deadlocks with them. On
    PostgreSQL the caller holds the pause lock, so a lease handed out concurrently has been
    committed and is released too; on SQLite it may be missed, and then simply expires."""
    open_leases = Lease.objects.filter(
        annotator=user, state=Lease.State.ACTIVE, batch_item__batch__project=project
    )
    item_ids = list(open_leases.values_list("batch_item_id", flat=True))
    if not item_ids:
        return 0
    list(
        BatchItem.objects.select_for_update()
        .filter(pk__in=item_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    lease_ids = list(
        open_leases.select_for_update(of=("self",))
        .filter(batch_item_id__in=item_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return Lease.objects.filter(pk__in=lease_ids).update(state=Lease.State.RELEASED)
