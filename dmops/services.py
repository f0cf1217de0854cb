"""Every write to projects, members and steps. The rules live here; every caller comes here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from dmops.errors import DomainError, GateNotMet
from dmops.models import Membership, Project, StepEvent, StepState
from dmops.steps import STEP_KEYS, evaluate_checks, step_definition

User = get_user_model()
LAST_STEP = STEP_KEYS[-1]
GOAL_FIELDS = (
    "goal_business_need",
    "goal_intended_use",
    "goal_target_size",
    "goal_success_metric",
    "goal_deadline",
)


# What other apps do, in the same transaction, when someone leaves a project (the labelling
# queue releases the items they hold). Registered from AppConfig.ready(), as gate checks and
# demo seeders are: dmops cannot import the apps built on it.
_MEMBER_REMOVED_HOOKS: list[Callable[[Project, object], None]] = []


def register_member_removed_hook(
    fn: Callable[[Project, object], None],
) -> Callable[[Project, object], None]:
    if fn not in _MEMBER_REMOVED_HOOKS:
        _MEMBER_REMOVED_HOOKS.append(fn)
    return fn


def _require_manager(project: Project, user, action: str) -> None:
    if not project.is_manager(user):
        raise PermissionDenied(f"Only a project manager can {action}.")


@transaction.atomic
def project_create(*, name: str, created_by, description: str = "") -> Project:
    """Create a project with its 12 steps not started; the creator becomes its first manager."""
    name = name.strip()
    if not name:
        raise DomainError({"name": "A project needs a name."})
    project = Project.objects.create(name=name, description=description, created_by=created_by)
    StepState.objects.bulk_create(StepState(project=project, key=key) for key in STEP_KEYS)
    Membership.objects.create(project=project, user=created_by, role=Membership.Role.MANAGER)
    return project


@transaction.atomic
def project_update(*, project: Project, by, **fields) -> Project:
    """Update the description and the step-1 goal. Managers only; reopening is not needed."""
    _require_manager(project, by, "edit the project goal")
    allowed = {"name", "description", *GOAL_FIELDS}
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(f"Unknown project fields: {', '.join(sorted(unknown))}.")
    if "name" in fields and not str(fields["name"]).strip():
        raise DomainError({"name": "A project needs a name."})
    target = fields.get("goal_target_size")
    if target is not None and target <= 0:
        raise DomainError({"goal_target_size": "The target size must be a positive number."})
    for field, value in fields.items():
        setattr(project, field, value)
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def member_add(*, project: Project, by, username: str, role: str) -> Membership:
    """Add an existing user to the project with a role. Managers only; one membership per user."""
    _require_manager(project, by, "add members")
    if role not in Membership.Role.values:
        raise DomainError({"role": f"Unknown role {role!r}; use manager, reviewer or annotator."})
    user = User.objects.filter(username=username.strip()).first()
    if user is None:
        raise DomainError({"username": f"No user is called {username!r}."})
    if Membership.objects.filter(project=project, user=user).exists():
        raise DomainError({"username": f"{user.username} is already a member of this project."})
    return Membership.objects.create(project=project, user=user, role=role)


@transaction.atomic
def member_remove(*, project: Project, by, user) -> None:
    """Remove a member. Managers only; the last manager cannot be removed. What they hold in
    the project's other apps goes with them (register_member_removed_hook)."""
    _require_manager(project, by, "remove members")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        raise DomainError(f"{user} is not a member of this project.")
    if membership.role == Membership.Role.MANAGER:
        managers = Membership.objects.filter(project=project, role=Membership.Role.MANAGER)
        if managers.count() == 1:
            raise DomainError("A project must keep at least one manager.")
    membership.delete()
    for hook in _MEMBER_REMOVED_HOOKS:
        hook(project, user)


def _locked_step(project: Project, key: int) -> StepState:
    step_definition(key)
    return StepState.objects.select_for_update().get(project=project, key=key)


def _record(step: StepState, by, kind: str, note: str = "", affected: list[int] | None = None):
    StepEvent.objects.create(
        project_id=step.project_id,
        step=step,
        actor=by,
        kind=kind,
        note=note,
        affected_steps=affected or [],
    )
    Project.objects.filter(pk=step.project_id).update(updated_at=timezone.now())


@transaction.atomic
def step_start(*, project: Project, key: int, by, note: str = "") -> StepState:
    """Start a step. Steps may run in parallel, so earlier steps need not be done yet."""
    _require_manager(project, by, "start a step")
    step = _locked_step(project, key)
    if step.status != StepState.Status.NOT_STARTED:
        raise DomainError(f"Step {key} is already {step.get_status_display().lower()}.")
    step.status, step.started_at = StepState.Status.IN_PROGRESS, timezone.now()
    step.save(update_fields=["status", "started_at"])
    _record(step, by, StepEvent.Kind.STARTED, note)
    return step


@transaction.atomic
def step_sign_off(*, project: Project, key: int, by, note: str = "") -> StepState:
    """Sign off a step in progress: every earlier step must be done or skipped, and every gate
    check registered for the step must pass. Signing off the last step completes the project."""
    _require_manager(project, by, "sign off a step")
    step = _locked_step(project, key)
    if step.status != StepState.Status.IN_PROGRESS:
        raise DomainError(
            f"Step {key} is {step.get_status_display().lower()}; only a step in progress "
            "can be signed off."
        )
    open_earlier = list(
        StepState.objects.filter(project=project, key__lt=key)
        .exclude(status__in=[StepState.Status.DONE, StepState.Status.SKIPPED])
        .values_list("key", flat=True)
    )
    if open_earlier:
        listed = ", ".join(str(k) for k in open_earlier)
        raise DomainError(
            f"Step {key} cannot be signed off while earlier steps are not done: {listed}. "
            "Sign them off or skip them with a reason."
        )
    failing = [o for o in evaluate_checks(project, key) if not o.passed]
    if failing:
        raise GateNotMet(key, failing)
    now = timezone.now()
    step.status, step.signed_off_by, step.signed_off_at = StepState.Status.DONE, by, now
    step.save(update_fields=["status", "signed_off_by", "signed_off_at"])
    _record(step, by, StepEvent.Kind.SIGNED_OFF, note)
    if key == LAST_STEP:
        Project.objects.filter(pk=project.pk).update(completed_at=now)
    return step


@transaction.atomic
def step_skip(*, project: Project, key: int, by, reason: str) -> StepState:
    """Mark a step skipped. A reason is required: skipping lets later steps be signed off."""
    _require_manager(project, by, "skip a step")
    if not reason.strip():
        raise DomainError({"reason": "Say why the step is skipped."})
    step = _locked_step(project, key)
    if step.is_closed:
        raise DomainError(f"Step {key} is already {step.get_status_display().lower()}.")
    step.status, step.skip_reason = StepState.Status.SKIPPED, reason.strip()
    step.save(update_fields=["status", "skip_reason"])
    _record(step, by, StepEvent.Kind.SKIPPED, reason.strip())
    return step


@transaction.atomic
def step_reopen(*, project: Project, key: int, by, reason: str) -> StepState:
    """Send a done or skipped step back to in progress, with a reason (e.g. step 11 found label
    errors ⇒ back to step 5). Later steps that were done depended on it and return to in progress
    too; the one event of the transition lists them."""
    _require_manager(project, by, "reopen a step")
    if not reason.strip():
        raise DomainError({"reason": "Say why the step is reopened."})
    step = _locked_step(project, key)
    if not step.is_closed:
        raise DomainError(f"Step {key} is {step.get_status_display().lower()}; nothing to reopen.")
    later_done = StepState.objects.select_for_update().filter(
        project=project, key__gt=key, status=StepState.Status.DONE
    )
    affected = sorted(later_done.values_list("key", flat=True))
    later_done.update(status=StepState.Status.IN_PROGRESS, signed_off_by=None, signed_off_at=None)
    step.status, step.signed_off_by, step.signed_off_at, step.skip_reason = (
        StepState.Status.IN_PROGRESS,
        None,
        None,
        "",
    )
    step.started_at = step.started_at or timezone.now()
    step.save(
        update_fields=["status", "signed_off_by", "signed_off_at", "skip_reason", "started_at"]
    )
    _record(step, by, StepEvent.Kind.REOPENED, reason.strip(), affected)
    Project.objects.filter(pk=project.pk).update(completed_at=None)
    return step


@transaction.atomic
def step_assign(
    *, project: Project, key: int, by, owner=None, due_date: dt.date | None = None
) -> StepState:
    """Set a step's owner (a project member) and due date."""
    _require_manager(project, by, "assign a step")
    if owner is not None and not Membership.objects.filter(project=project, user=owner).exists():
        raise DomainError({"owner": f"{owner} is not a member of this project."})
    step = _locked_step(project, key)
    step.owner, step.due_date = owner, due_date
    step.save(update_fields=["owner", "due_date"])
    summary = f"owner: {owner or '—'}, due: {due_date.isoformat() if due_date else '—'}"
    _record(step, by, StepEvent.Kind.ASSIGNED, summary)
    return step


@transaction.atomic
def step_update_notes(*, project: Project, key: int, by, notes: str) -> StepState:
    """Replace a step's artifacts and notes (links, decisions). Managers and reviewers."""
    if project.role_of(by) not in (Membership.Role.MANAGER, Membership.Role.REVIEWER):
        raise PermissionDenied("Only managers and reviewers can edit step notes.")
    step = _locked_step(project, key)
    step.notes = notes
    step.save(update_fields=["notes"])
    _record(step, by, StepEvent.Kind.NOTES)
    return step
