"""Reads for step 7: how a training item is asked, an annotator's progress through training
and the feedback after an answer (the manager's setup is in ``training_setup``).

Gold answers leave this module only in the setup (managers and reviewers) and in the feedback
on an answer already given; ``TrainingQuestion`` carries what an annotator may see beforehand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from annotation import guideline_sections, markdown
from annotation.models import (
    AnnotatorState,
    QualificationRule,
    SchemaVersion,
    TrainingAnswer,
    TrainingAttempt,
    TrainingItem,
)
from annotation.selectors.guideline import current_guideline
from dmops.models import Project

BINARY_CHOICES = (("yes", "Yes", "y"), ("no", "No", "n"), ("unsure", "Unsure", "u"))
PAIRWISE_CHOICES = (("a", "A is better", "a"), ("b", "B is better", "b"), ("tie", "Tie", "t"))
# Section html is shown beside the full guideline, whose headings carry these ids already.
_HEADING_ID = re.compile(r'\s+id="sec-[^"]*"')


def final_schema(project: Project) -> SchemaVersion | None:
    return (
        SchemaVersion.objects.filter(project=project, is_final=True)
        .prefetch_related("labels")
        .order_by("-number")
        .first()
    )


def guideline_headings(project: Project) -> list[str]:
    """Headings of the current guideline, for the manager's choice of a section."""
    guideline = current_guideline(project)
    if guideline is None:
        return []
    return [h.text for h in guideline_sections.headings(guideline.body) if h.text]


def qualification_rule(project: Project) -> QualificationRule:
    rule = QualificationRule.objects.filter(project=project).first()
    if rule is None:
        raise Http404("No pass rule is set.")
    return rule


def training_items(project: Project) -> QuerySet[TrainingItem]:
    """The project's training items in use: retired ones are kept for history only."""
    return (
        TrainingItem.objects.active()
        .filter(project=project)
        .select_related("item")
        .order_by("position", "pk")
    )


# --- how an item is asked ------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str
    name: str
    hotkey: str


@dataclass(frozen=True)
class TrainingQuestion:
    """How a training item is asked: the prompt and the answers, without the gold answer."""

    kind: str  # binary | single | multi | pairwise
    prompt: str
    proposed_label: str
    choices: tuple[Choice, ...]


def training_question(
    schema: SchemaVersion | None, training_item: TrainingItem
) -> TrainingQuestion:
    """A proposed label turns any schema into a yes/no question about that label."""
    if schema is None:
        return TrainingQuestion("binary", "", "", ())
    labels = list(schema.labels.all())
    if training_item.proposed_label or schema.task_type == SchemaVersion.TaskType.BINARY:
        label = next((lb for lb in labels if lb.key == training_item.proposed_label), None)
        prompt = schema.question
        if label is not None:
            prompt = label.question or f"Does “{label.name}” apply to this sentence?"
        return TrainingQuestion(
            "binary",
            prompt,
            label.name if label else "",
            tuple(Choice(*c) for c in BINARY_CHOICES),
        )
    if schema.task_type == SchemaVersion.TaskType.PAIRWISE:
        return TrainingQuestion(
            "pairwise", schema.question, "", tuple(Choice(*c) for c in PAIRWISE_CHOICES)
        )
    return TrainingQuestion(
        schema.task_type,
        schema.question,
        "",
        tuple(Choice(lb.key, lb.name, lb.hotkey) for lb in labels),
    )


def answer_display(schema: SchemaVersion | None, answer: Any) -> str:
    """An answer in words: label names instead of keys, "none" for an empty multi-label."""
    names = {key: name for key, name, _ in BINARY_CHOICES + PAIRWISE_CHOICES}
    if schema is not None:
        names.update({lb.key: lb.name for lb in schema.labels.all()})
    if isinstance(answer, list):
        return ", ".join(names.get(k, k) for k in answer) or "none of the labels"
    return names.get(answer, str(answer))


# --- an annotator's training ---------------------------------------------------------------


def next_training_item(attempt: TrainingAttempt) -> TrainingItem | None:
    """The first training item, in position order, that the attempt has not answered."""
    answered = TrainingAnswer.objects.filter(attempt=attempt, training_item=OuterRef("pk"))
    return training_items(attempt.project).filter(~Exists(answered)).first()


@dataclass(frozen=True)
class Feedback:
    """What an annotator sees after answering a training item."""

    answer: TrainingAnswer
    training_item: TrainingItem
    attempt: TrainingAttempt
    is_correct: bool
    given: Any
    gold: Any
    given_display: str
    gold_display: str
    explanation: str
    section_heading: str
    section_html: str | None  # None: no section named, or the guideline no longer has it

    @property
    def attempt_finished(self) -> bool:
        return self.attempt.finished_at is not None


def training_feedback(answer: TrainingAnswer) -> Feedback:
    training_item = TrainingItem.objects.select_related("item").get(pk=answer.training_item_id)
    attempt = TrainingAttempt.objects.get(pk=answer.attempt_id)
    schema = final_schema(attempt.project)
    section_html = None
    guideline = current_guideline(attempt.project)
    if training_item.guideline_section and guideline is not None:
        found = guideline_sections.section(guideline.body, training_item.guideline_section)
        if found is not None:
            section_html = _HEADING_ID.sub("", markdown.render(found.markdown).html)
    return Feedback(
        answer=answer,
        training_item=training_item,
        attempt=attempt,
        is_correct=answer.is_correct,
        given=answer.answer,
        gold=training_item.answer,
        given_display=answer_display(schema, answer.answer),
        gold_display=answer_display(schema, training_item.answer),
        explanation=training_item.explanation,
        section_heading=training_item.guideline_section,
        section_html=section_html,
    )


def last_feedback(project: Project, user) -> Feedback | None:
    """The feedback on the user's latest training answer in the project, if any."""
    answer = (
        TrainingAnswer.objects.filter(attempt__project=project, attempt__annotator=user)
        .order_by("-created_at", "-pk")
        .first()
    )
    return training_feedback(answer) if answer else None


def answer_for_annotator(project: Project, user, answer_id: int) -> TrainingAnswer:
    """One of the user's own answers in the project (404 for anyone else's)."""
    answer = TrainingAnswer.objects.filter(
        pk=answer_id, attempt__project=project, attempt__annotator=user
    ).first()
    if answer is None:
        raise Http404("No such answer of yours.")
    return answer


def attempt_for_annotator(project: Project, user, attempt_id: int) -> TrainingAttempt:
    """One of the user's own attempts in the project (404 for anyone else's)."""
    attempt = TrainingAttempt.objects.filter(pk=attempt_id, project=project, annotator=user).first()
    if attempt is None:
        raise Http404("No such training attempt of yours.")
    return attempt


def training_item_get(project: Project, training_item_id: int) -> TrainingItem:
    training_item = training_items(project).filter(pk=training_item_id).first()
    if training_item is None:
        raise Http404("No such training item in this project.")
    return training_item


@dataclass(frozen=True)
class AttemptProgress:
    """An attempt with how far it got and what comes next (no gold answers)."""

    attempt: TrainingAttempt
    answered: int
    next_item: TrainingItem | None
    question: TrainingQuestion | None


def attempt_progress(attempt: TrainingAttempt) -> AttemptProgress:
    next_item = next_training_item(attempt) if attempt.finished_at is None else None
    question = training_question(final_schema(attempt.project), next_item) if next_item else None
    return AttemptProgress(attempt, _answered(attempt), next_item, question)


def _answered(attempt: TrainingAttempt) -> int:
    """Answers to items still in training (what the attempt's score will count)."""
    return attempt.answers.filter(training_item__retired_at__isnull=True).count()


def current_attempt(project: Project, user) -> TrainingAttempt | None:
    return TrainingAttempt.objects.filter(
        project=project, annotator=user, finished_at__isnull=True
    ).first()


@dataclass
class TraineeState:
    """An annotator's standing in training: what the training page shows them."""

    rule: QualificationRule | None
    item_count: int
    qualified_at: datetime | None
    attempts: list[TrainingAttempt]
    current: TrainingAttempt | None
    next_item: TrainingItem | None
    question: TrainingQuestion | None
    answered: int

    @property
    def is_set_up(self) -> bool:
        return self.rule is not None and self.item_count > 0

    @property
    def attempts_used(self) -> int:
        return len(self.attempts)

    @property
    def attempts_left(self) -> int | None:
        if self.rule is None or self.rule.max_attempts is None:
            return None
        return max(self.rule.max_attempts - self.attempts_used, 0)

    @property
    def last_finished(self) -> TrainingAttempt | None:
        finished = [a for a in self.attempts if a.finished_at is not None]
        return finished[-1] if finished else None

    @property
    def can_start(self) -> bool:
        return (
            self.is_set_up
            and self.qualified_at is None
            and self.current is None
            and self.attempts_left != 0
        )


def trainee_state(project: Project, user) -> TraineeState:
    attempts = list(
        TrainingAttempt.objects.filter(project=project, annotator=user).order_by("number")
    )
    current = next((a for a in attempts if a.finished_at is None), None)
    next_item = next_training_item(current) if current else None
    question = training_question(final_schema(project), next_item) if next_item else None
    return TraineeState(
        rule=QualificationRule.objects.filter(project=project).first(),
        item_count=TrainingItem.objects.active().filter(project=project).count(),
        qualified_at=AnnotatorState.objects.filter(project=project, user=user)
        .values_list("qualified_at", flat=True)
        .first(),
        attempts=attempts,
        current=current,
        next_item=next_item,
        question=question,
        answered=_answered(current) if current else 0,
    )
