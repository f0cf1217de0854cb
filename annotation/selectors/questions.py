"""Reads of the question log, filtered to what the user may see.

Annotators see their own questions and every promoted one (promoted answers are guideline
text); another annotator's unpromoted question stays private, since it may be about an item
whose answers the asker should not influence. Reviewers and managers see all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.http import Http404
from django.urls import reverse

from annotation.models import Annotation, GuidelineVersion, Question, SchemaVersion
from dmops.dashboard import Badge
from dmops.models import Membership, Project
from dmops.selectors import project_for_member

STATUS_RANK = Case(
    When(status=Question.Status.OPEN, then=Value(0)),
    When(status=Question.Status.ANSWERED, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _base(project: Project) -> QuerySet[Question]:
    return Question.objects.filter(project=project).select_related(
        "asked_by", "answered_by", "item", "guideline_version", "promoted_to"
    )


def my_questions(project: Project, user, role: str | None = None) -> QuerySet[Question]:
    """The questions *user* may see: an annotator's own plus all promoted ones; everything for
    reviewers and managers. Nothing for someone who is not a member."""
    role = role if role is not None else project.role_of(user)
    if role is None:
        return Question.objects.none()
    questions = _base(project)
    if role == Membership.Role.ANNOTATOR:
        questions = questions.filter(Q(asked_by=user) | Q(status=Question.Status.PROMOTED))
    return questions


def question_search(
    project: Project,
    user,
    *,
    role: str | None = None,
    q: str = "",
    status: str = "",
    label: str = "",
    item: int | None = None,
    asker: str = "",
) -> QuerySet[Question]:
    """The visible questions matching the filters; *q* searches the question and its answer.
    Open questions come first, oldest first (the inbox order); then the others, newest first."""
    questions = my_questions(project, user, role)
    if q.strip():
        questions = questions.filter(Q(text__icontains=q.strip()) | Q(answer__icontains=q.strip()))
    if status:
        questions = questions.filter(status=status)
    if label:
        questions = questions.filter(label=label)
    if item is not None:
        questions = questions.filter(item_id=item)
    if asker:
        questions = questions.filter(asked_by__username=asker)
    open_age = Case(When(status=Question.Status.OPEN, then=F("created_at")))
    return questions.order_by(STATUS_RANK, open_age.asc(), F("created_at").desc(), "-pk")


def inbox(project: Project) -> QuerySet[Question]:
    """The manager's inbox: open questions, oldest first."""
    return _base(project).filter(status=Question.Status.OPEN).order_by("created_at", "pk")


def open_question_count(project: Project) -> int:
    return Question.objects.filter(project=project, status=Question.Status.OPEN).count()


def unseen_answers(project: Project, user) -> QuerySet[Question]:
    """*user*'s own questions whose answer they have not seen yet (the workbench shows them)."""
    return (
        _base(project)
        .filter(
            asked_by=user,
            status__in=[Question.Status.ANSWERED, Question.Status.PROMOTED],
            answer_seen_at__isnull=True,
        )
        .order_by("answered_at", "pk")
    )


def questions_on_items(
    project: Project, item_ids: Iterable[int], *, user=None, role: str | None = None
) -> dict[int, list[Question]]:
    """The questions asked about each of *item_ids*, oldest first, in one query (the agreement
    report lists them beside disagreements). All of them, or with *user*, those they may see."""
    by_item: dict[int, list[Question]] = {}
    questions = _base(project) if user is None else my_questions(project, user, role)
    questions = questions.filter(item_id__in=list(item_ids)).order_by("created_at", "pk")
    for question in questions:
        by_item.setdefault(question.item_id, []).append(question)
    return by_item


def question_for_member(user, project_id: int, pk: int) -> tuple[Question, Project, str]:
    """A question the user may see, with its project and the user's role: 403 for outsiders,
    404 when it does not exist or is another annotator's unpromoted question."""
    project, role = project_for_member(user, project_id)
    question = my_questions(project, user, role).filter(pk=pk).first()
    if question is None:
        raise Http404("No such question.")
    return question, project, role


def question_by_id_for_member(user, pk: int) -> tuple[Question, Project, str]:
    """As question_for_member, for URLs that name only the question (the REST API)."""
    project_id = Question.objects.filter(pk=pk).values_list("project_id", flat=True).first()
    if project_id is None:
        raise Http404("No such question.")
    return question_for_member(user, project_id, pk)


def asked_labels(project: Project) -> list[str]:
    """Label keys questions were asked about, for the filter's choices."""
    return list(
        Question.objects.filter(project=project)
        .exclude(label="")
        .values_list("label", flat=True)
        .distinct()
        .order_by("label")
    )


# --- stale annotations --------------------------------------------------------------------


def _answer_has_label(label: str) -> Q:
    """Annotations whose answer involves *label*, by the task type of the batch's schema."""
    task_type = "batch_item__batch__schema_version__task_type"
    if connection.features.supports_json_field_contains:
        in_list = Q(answer__contains=[label])
    else:
        # Label keys are slugs, so the quoted key matches one whole element of the JSON list.
        in_list = Q(answer__icontains=f'"{label}"')
    return (
        Q(**{task_type: SchemaVersion.TaskType.BINARY}, batch_item__proposed_label=label)
        | Q(**{task_type: SchemaVersion.TaskType.SINGLE}, answer=label)
        | (Q(**{task_type: SchemaVersion.TaskType.MULTI}) & in_list)
    )


def affected_labels(version: GuidelineVersion) -> list[str] | None:
    """Labels a promotion into *version* clarified; None when it concerns every label (a
    question about no label, or a version not made by a promotion)."""
    labels = list(version.promoted_questions.values_list("label", flat=True))
    if not labels or "" in labels:
        return None
    return sorted(set(labels))


def stale_annotations(
    project: Project, question_or_version: Question | GuidelineVersion
) -> QuerySet[Annotation]:
    """Annotations to re-check after a promotion: made under a guideline version older than the
    promoted one (or before any guideline), on the labels the promotion affects. A single-label
    answer equal to the label, a multi-label answer containing it, a binary judgement on an
    item proposed with it; every annotation when the question named no label."""
    if isinstance(question_or_version, Question):
        version = question_or_version.promoted_to
        if version is None:
            return Annotation.objects.none()
        labels = None if not question_or_version.label else [question_or_version.label]
    else:
        version = question_or_version
        labels = affected_labels(version)
    annotations = Annotation.objects.filter(batch_item__batch__project=project).filter(
        Q(guideline_version__isnull=True) | Q(guideline_version__number__lt=version.number)
    )
    if labels is not None:
        matches = Q(pk__in=[])
        for label in labels:
            matches |= _answer_has_label(label)
        annotations = annotations.filter(matches)
    return annotations.select_related(
        "item", "annotator", "guideline_version", "batch_item__batch"
    ).order_by("item_id", "created_at", "pk")


# --- dashboard ------------------------------------------------------------------------------


def open_questions_badge(projects: Sequence[Project], user) -> dict[int, Badge]:
    """Open questions per project, on the projects *user* manages; one query for all."""
    counts = (
        Question.objects.filter(
            project__in=[p.pk for p in projects],
            status=Question.Status.OPEN,
            project__memberships__user=user,
            project__memberships__role=Membership.Role.MANAGER,
        )
        .values("project_id")
        .annotate(n=Count("pk"))
        .values_list("project_id", "n")
    )
    return {
        project_id: Badge(
            label="open question" if n == 1 else "open questions",
            count=n,
            url=reverse("questions", args=[project_id]) + "?status=open",
        )
        for project_id, n in counts
    }
