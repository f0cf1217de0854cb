"""Reads of projects and their lifecycle, filtered to what the user may see."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import Max, Prefetch, QuerySet
from django.http import Http404

from dmops.dashboard import Badge, badges_for
from dmops.models import Membership, Project, StepEvent, StepState
from dmops.steps import CheckOutcome, StepDefinition, evaluate_checks, step_definition


def project_list_for_user(user) -> QuerySet[Project]:
    """Projects the user is a member of, with steps and the last event time prefetched."""
    if not user.is_authenticated:
        return Project.objects.none()
    return (
        Project.objects.filter(memberships__user=user)
        .annotate(last_event_at=Max("events__created_at"))
        .prefetch_related(Prefetch("steps", queryset=StepState.objects.order_by("key")))
        .order_by("-updated_at", "-pk")
    )


def project_for_member(user, project_id: int) -> tuple[Project, str]:
    """The project and the user's role on it. Raises 404 if it does not exist and
    PermissionDenied (403) if the user is not a member: outsiders never see its data."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise Http404("No such project.")
    role = project.role_of(user)
    if role is None:
        raise PermissionDenied("You are not a member of this project.")
    return project, role


def member_list(project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("role", "user__username")


@dataclass
class StepCard:
    """One step as the board shows it: definition, state, checks and history."""

    definition: StepDefinition
    state: StepState
    checks: list[CheckOutcome]
    events: list[StepEvent] = field(default_factory=list)

    @property
    def key(self) -> int:
        return self.definition.key

    @property
    def checks_pass(self) -> bool:
        return all(outcome.passed for outcome in self.checks)

    @property
    def display_status(self) -> str:
        """done / skipped / blocked / in_progress / not_started, as the progress bar colours it."""
        if self.state.status == StepState.Status.IN_PROGRESS and not self.checks_pass:
            return "blocked"
        return self.state.status

    @property
    def display_label(self) -> str:
        if self.display_status == "blocked":
            return "Blocked"
        return self.state.get_status_display()


def _events_by_step(project: Project) -> dict[int, list[StepEvent]]:
    """Each step's history, including reopens of earlier steps that sent it back."""
    by_step: dict[int, list[StepEvent]] = {}
    events = StepEvent.objects.filter(project=project).select_related("actor", "step")
    for event in events.order_by("-created_at", "-pk"):
        by_step.setdefault(event.step.key, []).append(event)
        for key in event.affected_steps:
            by_step.setdefault(key, []).append(event)
    return by_step


def step_board(project: Project) -> list[StepCard]:
    states = StepState.objects.filter(project=project).select_related("owner", "signed_off_by")
    events = _events_by_step(project)
    return [
        StepCard(
            definition=step_definition(state.key),
            state=state,
            checks=evaluate_checks(project, state.key),
            events=events.get(state.key, []),
        )
        for state in states.order_by("key")
    ]


def step_card(project: Project, key: int) -> StepCard:
    state = (
        StepState.objects.select_related("owner", "signed_off_by")
        .filter(project=project, key=key)
        .first()
    )
    if state is None:
        raise Http404("No such step.")
    return StepCard(
        definition=step_definition(key),
        state=state,
        checks=evaluate_checks(project, key),
        events=_events_by_step(project).get(key, []),
    )


@dataclass
class ProjectSummary:
    project: Project
    role: str
    segments: list[tuple[int, str, str]]  # (key, name, display status)
    current_step: StepDefinition | None
    open_blockers: int
    badges: list[Badge] = field(default_factory=list)


def dashboard(user) -> list[ProjectSummary]:
    """The user's projects, each with a 12-segment progress bar, its current step (the first
    not done or skipped), how many gate checks fail on steps in progress, and the badges the
    apps registered (dmops/dashboard.py), e.g. open questions for managers."""
    roles = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
    projects = list(project_list_for_user(user))
    badges = badges_for(projects, user)
    summaries = []
    for project in projects:
        segments, current, blockers = [], None, 0
        for state in project.steps.all():
            status = state.status
            if status == StepState.Status.IN_PROGRESS:
                failing = [o for o in evaluate_checks(project, state.key) if not o.passed]
                blockers += len(failing)
                status = "blocked" if failing else status
            if current is None and not state.is_closed:
                current = step_definition(state.key)
            segments.append((state.key, state.name, status))
        summaries.append(
            ProjectSummary(
                project,
                roles.get(project.pk, ""),
                segments,
                current,
                blockers,
                badges.get(project.pk, []),
            )
        )
    return summaries
