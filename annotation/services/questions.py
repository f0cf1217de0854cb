"""The question log: annotators ask, managers answer, and an answer can be promoted into the
guideline as a new version so that the clarification is not lost in the log."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import (
    AnnotatorState,
    GuidelineVersion,
    Item,
    Label,
    Question,
    SchemaVersion,
)
from annotation.services.guideline import guideline_publish
from dmops.errors import DomainError
from dmops.models import Project

MAX_QUESTION_LENGTH = 4000
MAX_ANSWER_LENGTH = 20000
CLARIFICATIONS_HEADING = "Clarifications"
SUMMARY_TEXT_LENGTH = 80

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def label_keys(project: Project) -> set[str]:
    """Keys of the labels of the project's latest schema version: the ones a question can name."""
    latest = SchemaVersion.objects.filter(project=project).order_by("-number").first()
    if latest is None:
        return set()
    return set(Label.objects.filter(schema_version=latest).values_list("key", flat=True))


def _current_guideline(project: Project) -> GuidelineVersion | None:
    return GuidelineVersion.objects.filter(project=project).order_by("-number").first()


def _require_manager(project: Project, by, action: str) -> None:
    if not project.is_manager(by):
        raise PermissionDenied(f"Only a project manager can {action}.")


@transaction.atomic
def question_ask(
    *, project: Project, by, text: str, item: Item | None = None, label: str = ""
) -> Question:
    """Any member may ask. The item must be one of the project's, the label a key of its latest
    schema; the guideline version current at asking time is recorded, so the manager knows
    which text the asker had read."""
    if project.role_of(by) is None:
        raise PermissionDenied("You are not a member of this project.")
    errors: dict[str, str] = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = "Write your question."
    elif len(text) > MAX_QUESTION_LENGTH:
        errors["text"] = f"Keep the question under {MAX_QUESTION_LENGTH} characters."
    if item is not None and item.project_id != project.pk:
        errors["item"] = "That item is not part of this project."
    label = (label or "").strip()
    if label and label not in label_keys(project):
        errors["label"] = f"“{label}” is not a label of the current schema."
    if errors:
        raise DomainError(errors)
    return Question.objects.create(
        project=project,
        asked_by=by,
        item=item,
        label=label,
        text=text,
        guideline_version=_current_guideline(project),
    )


def _locked(question: Question) -> Question:
    """Re-read the question under a row lock so an answer and a promotion cannot interleave."""
    return (
        Question.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=question.pk)
    )


@transaction.atomic
def question_answer(*, question: Question, by, answer: str) -> Question:
    """Managers answer, and may edit the answer until it is promoted into the guideline (after
    that the guideline holds the text, and a new question is the way to change it). Editing an
    answer shows it to the asker again."""
    _require_manager(question.project, by, "answer questions")
    question = _locked(question)
    if question.status == Question.Status.PROMOTED:
        raise DomainError(
            "This answer is already in the guideline; it can no longer be edited here."
        )
    answer = (answer or "").strip()
    if not answer:
        raise DomainError({"answer": "Write an answer."})
    if len(answer) > MAX_ANSWER_LENGTH:
        raise DomainError({"answer": f"Keep the answer under {MAX_ANSWER_LENGTH} characters."})
    question.answer = answer
    question.status = Question.Status.ANSWERED
    question.answered_by = by
    question.answered_at = timezone.now()
    question.answer_seen_at = None
    question.save(
        update_fields=["answer", "status", "answered_by", "answered_at", "answer_seen_at"]
    )
    return question


def guideline_headings(body: str) -> list[str]:
    """Heading texts of a Markdown body in order, skipping fenced code blocks."""
    return [text for _, _, text in _headings(body.split("\n"))]


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, text) of each ATX heading outside fenced code."""
    found, fenced = [], False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            found.append((index, len(match.group(1)), match.group(2)))
    return found


def _no_headings(text: str) -> str:
    """Escape lines that Markdown would read as headings, so a Q&A cannot end its section."""
    return "\n".join("\\" + line if _HEADING.match(line) else line for line in text.split("\n"))


def _qa_block(question: Question) -> list[str]:
    about = [f"#{question.pk}"]
    if question.label:
        about.append(f"label `{question.label}`")
    if question.item_id:
        about.append(f"item {question.item_id}")
    return [
        f"**Q ({', '.join(about)}):** {_no_headings(question.text)}",
        "",
        f"**A:** {_no_headings(question.answer)}",
    ]


def body_with_clarification(body: str, question: Question, section: str | None = None) -> str:
    """*body* with the question and its answer appended to the section headed *section* (when
    the body has that heading), else to a "## Clarifications" section, created at the end if
    the body has none. The section ends at the next heading of the same or a higher level."""
    lines = body.rstrip("\n").split("\n")
    headings = _headings(lines)
    wanted = (section or "").strip().casefold()
    target = next((h for h in headings if wanted and h[2].casefold() == wanted), None)
    if target is None:
        target = next(
            (h for h in headings if h[2].casefold() == CLARIFICATIONS_HEADING.casefold()), None
        )
    block = _qa_block(question)
    if target is None:
        return "\n".join([*lines, "", f"## {CLARIFICATIONS_HEADING}", "", *block]) + "\n"
    start, level, _ = target
    end = next((i for i, lvl, _ in headings if i > start and lvl <= level), len(lines))
    before = lines[:end]
    while before and not before[-1].strip() and len(before) > start + 1:
        before.pop()
    after = lines[end:]
    return "\n".join([*before, "", *block, *([""] if after else []), *after]) + "\n"


def _summary(question: Question) -> str:
    text = " ".join(question.text.split())
    if len(text) > SUMMARY_TEXT_LENGTH:
        text = text[: SUMMARY_TEXT_LENGTH - 1].rstrip() + "…"
    return f"Q&A #{question.pk}: {text}"


@transaction.atomic
def question_promote(*, question: Question, by, section: str | None = None) -> Question:
    """Fold an answered question into the guideline: publish a new version whose body is the
    current one plus the Q&A (under *section* if the guideline has that heading, else under
    "Clarifications"). Managers only; an unanswered or already promoted question is refused.
    The version and the status change commit together or not at all."""
    _require_manager(question.project, by, "promote answers into the guideline")
    # Lock the project (as guideline_publish does) before reading the current body: two
    # promotions at once would otherwise both build on the same version, and the later one
    # would drop the earlier one's Q&A from the guideline.
    Project.objects.select_for_update().filter(pk=question.project_id).first()
    question = _locked(question)
    if question.status == Question.Status.PROMOTED:
        raise DomainError("This answer is already in the guideline.")
    if question.status != Question.Status.ANSWERED:
        raise DomainError("Answer the question before promoting it into the guideline.")
    current = _current_guideline(question.project)
    if current is None:
        raise DomainError("Publish a first guideline version before promoting answers into it.")
    version = guideline_publish(
        project=question.project,
        by=by,
        body=body_with_clarification(current.body, question, section),
        change_summary=_summary(question),
    )
    question.status = Question.Status.PROMOTED
    question.promoted_to = version
    question.save(update_fields=["status", "promoted_to"])
    return question


def question_mark_seen(*, questions: Question | Iterable[Question], by) -> int:
    """Record that *by* has read the answers to their own questions among *questions*. Other
    people's questions and unanswered ones are left alone. Returns how many were marked."""
    if isinstance(questions, Question):
        questions = [questions]
    ids = [q.pk for q in questions]
    return Question.objects.filter(
        pk__in=ids,
        asked_by=by,
        status__in=[Question.Status.ANSWERED, Question.Status.PROMOTED],
        answer_seen_at__isnull=True,
    ).update(answer_seen_at=timezone.now())


@transaction.atomic
def answers_mark_seen(*, project: Project, user, question_ids: Iterable[int]) -> None:
    """``user`` has read the answers the workbench showed them: their own answered questions
    stop being news, and so does every answer promoted into the guideline up to the latest
    promotion among those shown (an answer promoted meanwhile stays news)."""
    shown = Question.objects.filter(project=project, pk__in=list(question_ids))
    question_mark_seen(questions=shown, by=user)
    latest = shown.filter(status=Question.Status.PROMOTED).aggregate(
        latest=Max("promoted_to__created_at")
    )["latest"]
    if latest is None:
        return
    state, _ = AnnotatorState.objects.get_or_create(project=project, user=user)
    if state.answers_seen_at is None or state.answers_seen_at < latest:
        state.answers_seen_at = latest
        state.save(update_fields=["answers_seen_at", "updated_at"])
