"""Step 6 reads: the roster (who is on the project and where each annotator stands) and the
annotators the step 7 gate is waiting for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, IntegerField, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from annotation.models import (
    Annotation,
    AnnotatorState,
    Invitation,
    QualificationRule,
    TrainingAttempt,
)
from dmops.models import Membership, Project


class Status:
    """An annotator's roster status, strongest first: the first that applies is shown."""

    PAUSED = "paused"
    ACTIVE = "active"
    QUALIFIED = "qualified"
    IN_TRAINING = "in_training"
    INVITED = "invited"
    JOINED = "joined"

    LABELS = {
        PAUSED: "Paused",
        ACTIVE: "Active",
        QUALIFIED: "Qualified",
        IN_TRAINING: "In training",
        INVITED: "Invited",
        JOINED: "Joined",
    }


@dataclass(frozen=True)
class RosterRow:
    user_id: int
    username: str
    email: str
    role: str
    member_since: datetime
    status: str | None  # None for managers and reviewers: the statuses describe annotators
    paused: bool
    attempts: int
    last_score: tuple[int, int] | None  # (correct, total) of the last finished attempt
    annotations: int
    last_activity: datetime | None
    flags: tuple[str, ...] = ()  # reasons to look at this annotator, from registered sources

    @property
    def status_label(self) -> str:
        return Status.LABELS.get(self.status or "", "")

    @property
    def is_annotator(self) -> bool:
        return self.role == Membership.Role.ANNOTATOR


@dataclass(frozen=True)
class Roster:
    rows: list[RosterRow]
    pending_invitations: list[Invitation]
    has_rule: bool


# Later apps flag annotators on the roster without annotation importing them (evaluation flags
# low accuracy on hidden gold items). A source maps a project to {user id: reason}.
RosterFlagSource = Callable[[Project], dict[int, str]]
_FLAG_SOURCES: list[RosterFlagSource] = []


def register_roster_flags(source: RosterFlagSource) -> RosterFlagSource:
    if source not in _FLAG_SOURCES:
        _FLAG_SOURCES.append(source)
    return source


def roster_flags(project: Project) -> dict[int, tuple[str, ...]]:
    flags: dict[int, list[str]] = {}
    for source in _FLAG_SOURCES:
        for user_id, reason in source(project).items():
            flags.setdefault(user_id, []).append(reason)
    return {user_id: tuple(reasons) for user_id, reasons in flags.items()}


def _status(*, paused, qualified_at, joined_at, attempts, annotations, has_rule) -> str:
    if paused:
        return Status.PAUSED
    if annotations and (qualified_at is not None or not has_rule):
        return Status.ACTIVE
    if qualified_at is not None:
        return Status.QUALIFIED
    if attempts:
        return Status.IN_TRAINING
    if joined_at is None:
        return Status.INVITED
    return Status.JOINED


def _count(queryset: QuerySet, group: str) -> Coalesce:
    counted = queryset.order_by().values(group).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _latest(queryset: QuerySet, group: str, field: str) -> Subquery:
    return Subquery(queryset.order_by().values(group).annotate(at=Max(field)).values("at"))


def roster_members(project: Project) -> QuerySet[Membership]:
    """Memberships with every roster figure annotated, in one query."""
    state = AnnotatorState.objects.filter(project=project, user=OuterRef("user"))
    attempts = TrainingAttempt.objects.filter(project=project, annotator=OuterRef("user"))
    last_finished = attempts.filter(finished_at__isnull=False).order_by("-finished_at", "-pk")
    annotations = Annotation.objects.filter(
        batch_item__batch__project=project, annotator=OuterRef("user")
    )
    return (
        Membership.objects.filter(project=project)
        .select_related("user")
        .annotate(
            paused=Subquery(state.values("paused")[:1]),
            joined_at=Subquery(state.values("joined_at")[:1]),
            qualified_at=Subquery(state.values("qualified_at")[:1]),
            attempt_count=_count(attempts, "annotator"),
            last_correct=Subquery(last_finished.values("correct")[:1]),
            last_total=Subquery(last_finished.values("total")[:1]),
            last_attempt_at=_latest(attempts, "annotator", "started_at"),
            last_finished_at=_latest(attempts, "annotator", "finished_at"),
            annotation_count=_count(annotations, "annotator"),
            last_annotation_at=_latest(annotations, "annotator", "created_at"),
        )
        .order_by("role", "user__username")
    )


def pending_invitations(project: Project) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        project=project, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def roster(project: Project) -> Roster:
    """One row per member with their status, training attempts, last training score, submitted
    annotations and last activity, plus pending invitations. Three queries, however many
    members (plus what each registered flag source reads)."""
    has_rule = QualificationRule.objects.filter(project=project).exists()
    flags = roster_flags(project)
    rows = []
    for m in roster_members(project):
        is_annotator = m.role == Membership.Role.ANNOTATOR
        moments = [
            t
            for t in (m.joined_at, m.last_attempt_at, m.last_finished_at, m.last_annotation_at)
            if t is not None
        ]
        rows.append(
            RosterRow(
                user_id=m.user_id,
                username=m.user.username,
                email=m.user.email,
                role=m.role,
                member_since=m.created_at,
                status=_status(
                    paused=m.paused,
                    qualified_at=m.qualified_at,
                    joined_at=m.joined_at,
                    attempts=m.attempt_count,
                    annotations=m.annotation_count,
                    has_rule=has_rule,
                )
                if is_annotator
                else None,
                paused=bool(m.paused),
                attempts=m.attempt_count,
                last_score=(m.last_correct, m.last_total) if m.last_total is not None else None,
                annotations=m.annotation_count,
                last_activity=max(moments) if moments else None,
                flags=flags.get(m.user_id, ()) if is_annotator else (),
            )
        )
    return Roster(
        rows=rows, pending_invitations=list(pending_invitations(project)), has_rule=has_rule
    )


def roster_row(project: Project, user_id: int) -> RosterRow:
    for row in roster(project).rows:
        if row.user_id == user_id:
            return row
    raise Http404("No such member.")


def active_unqualified_annotators(project: Project) -> QuerySet:
    """Annotators of the project who are neither paused nor qualified: the people the step 7
    gate ("every active annotator is qualified") is waiting for."""
    states = AnnotatorState.objects.filter(project=project, user=OuterRef("pk"))
    return (
        get_user_model()
        .objects.filter(memberships__project=project, memberships__role=Membership.Role.ANNOTATOR)
        .exclude(Exists(states.filter(paused=True)))
        .exclude(Exists(states.filter(qualified_at__isnull=False)))
        .order_by("username")
    )


def invitation_for_manager(project: Project, invitation_id: int) -> Invitation:
    invitation = Invitation.objects.filter(project=project, pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def invitation_by_token(token: str) -> Invitation:
    invitation = Invitation.objects.select_related("project", "invited_by").filter(token=token)
    found = invitation.first()
    if found is None:
        raise Http404("No such invitation.")
    return found
