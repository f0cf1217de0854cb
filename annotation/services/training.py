"""Step 7: training items with gold answers, the pass rule, and annotators' training attempts.

A manager marks items as training items with their correct answer and sets a pass rule
(``min_correct`` of the training items, optionally ``max_attempts``). An annotator starts an
attempt, answers every training item once and sees after each answer whether it was right;
answering the last item finishes the attempt, and passing sets ``AnnotatorState.qualified_at``,
after which the queue (annotation/queue.py) serves them items.

Answers are history: removing a training item someone answered retires it (it is no longer
served nor counted) rather than deleting it, so past attempts keep their answers and scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from annotation import guideline_sections
from annotation.models import (
    AnnotatorState,
    GuidelineVersion,
    Item,
    Label,
    QualificationRule,
    SchemaVersion,
    TrainingAnswer,
    TrainingAttempt,
    TrainingItem,
)
from annotation.selectors import training as selectors
from annotation.services.labelling import answer_validate
from dmops.errors import DomainError
from dmops.models import Membership, Project


def _require_manager(project: Project, user) -> None:
    if not project.is_manager(user):
        raise PermissionDenied("Only a project manager can set up training.")


def _final_schema(project: Project) -> SchemaVersion:
    schema = (
        SchemaVersion.objects.filter(project=project, is_final=True).order_by("-number").first()
    )
    if schema is None:
        raise DomainError("Mark a schema version final (step 4) before choosing gold answers.")
    return schema


def normalise_answer(answer: Any) -> Any:
    """Multi-label answers compare as sets, so they are stored sorted."""
    if isinstance(answer, list):
        return sorted(answer)
    return answer


def _clean_entry(
    entry: Mapping[str, Any],
    *,
    schema: SchemaVersion,
    label_keys: set[str],
    section_names: set[str] | None,
) -> dict[str, Any]:
    """Check one training item's fields; raise DomainError naming the item."""
    item_id = entry["item_id"]
    proposed_label = (entry.get("proposed_label") or "").strip()
    if proposed_label and proposed_label not in label_keys:
        raise DomainError(f"Item {item_id}: {proposed_label!r} is not a label of the schema.")
    try:
        answer = answer_validate(
            schema_version=schema, answer=entry.get("answer"), proposed_label=proposed_label
        )
    except DomainError as exc:
        raise DomainError(f"Item {item_id}: {' '.join(exc.messages)}") from None
    section = (entry.get("guideline_section") or "").strip()
    if section:
        if section_names is None:
            raise DomainError(
                f"Item {item_id}: publish a guideline before pointing to one of its sections."
            )
        if guideline_sections.normalise_heading(section) not in section_names:
            raise DomainError(f"Item {item_id}: the guideline has no section {section!r}.")
    return {
        "proposed_label": proposed_label,
        "answer": normalise_answer(answer),
        "explanation": (entry.get("explanation") or "").strip(),
        "guideline_section": section,
    }


def _clean_entries(project: Project, entries: list[Mapping[str, Any]]) -> dict[int, dict]:
    """Validate every entry before anything is written: all or nothing."""
    ids = [int(entry["item_id"]) for entry in entries]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise DomainError(f"Items given twice: {', '.join(map(str, duplicates))}.")
    usable = set(
        Item.objects.filter(project=project, is_active=True, pk__in=ids).values_list(
            "pk", flat=True
        )
    )
    refused = [i for i in ids if i not in usable]
    if refused:
        raise DomainError(
            "Not an active item of this project: " + ", ".join(map(str, refused)) + "."
        )
    schema = _final_schema(project)
    label_keys = set(Label.objects.filter(schema_version=schema).values_list("key", flat=True))
    guideline = GuidelineVersion.objects.filter(project=project).order_by("-number").first()
    section_names = (
        {
            guideline_sections.normalise_heading(h.text)
            for h in guideline_sections.headings(guideline.body)
        }
        if guideline
        else None
    )
    return {
        int(entry["item_id"]): _clean_entry(
            {**entry, "item_id": int(entry["item_id"])},
            schema=schema,
            label_keys=label_keys,
            section_names=section_names,
        )
        for entry in entries
    }


def _check_rule_still_reachable(project: Project, item_count: int) -> None:
    rule = QualificationRule.objects.filter(project=project).first()
    if rule is not None and item_count < rule.min_correct:
        raise DomainError(
            f"The pass rule needs {rule.min_correct} correct answers; keep at least that many "
            "training items or lower the rule first."
        )


@transaction.atomic
def training_items_set(
    *, project: Project, by, entries: Iterable[Mapping[str, Any]]
) -> list[TrainingItem]:
    """A manager replaces the project's training items with ``entries`` (``item_id``,
    ``answer`` and optionally ``proposed_label``, ``explanation``, ``guideline_section``), in
    that order. Items must be active items of the project; gold answers must fit the latest
    final schema (a proposed label makes the item a yes/no question); sections must be
    headings of the current guideline. One bad entry and nothing changes."""
    _require_manager(project, by)
    entries = list(entries)
    cleaned = _clean_entries(project, entries)
    _check_rule_still_reachable(project, len(cleaned))
    dropped = TrainingItem.objects.active().filter(project=project)
    _retire_or_delete(dropped.exclude(item_id__in=list(cleaned)))
    existing = {t.item_id: t for t in TrainingItem.objects.filter(project=project)}
    saved = []
    for position, (item_id, fields) in enumerate(cleaned.items()):
        training_item = existing.get(item_id) or TrainingItem(
            project=project, item_id=item_id, created_by=by
        )
        for name, value in fields.items():
            setattr(training_item, name, value)
        training_item.position, training_item.retired_at = position, None
        training_item.save()
        saved.append(training_item)
    return saved


@transaction.atomic
def training_item_add(
    *,
    project: Project,
    by,
    item_id: int,
    answer: Any,
    proposed_label: str = "",
    explanation: str = "",
    guideline_section: str = "",
) -> TrainingItem:
    """A manager adds one training item at the end, or updates it if the item already is
    one (keeping its place; a retired one comes back at the end). Same checks as
    ``training_items_set``."""
    _require_manager(project, by)
    entry = {
        "item_id": item_id,
        "answer": answer,
        "proposed_label": proposed_label,
        "explanation": explanation,
        "guideline_section": guideline_section,
    }
    fields = _clean_entries(project, [entry])[int(item_id)]
    training_item = TrainingItem.objects.filter(project=project, item_id=item_id).first()
    if training_item is None or training_item.retired_at is not None:
        active = TrainingItem.objects.active().filter(project=project)
        last = active.aggregate(m=Max("position"))["m"]
        training_item = training_item or TrainingItem(
            project=project, item_id=item_id, created_by=by
        )
        training_item.position = 0 if last is None else last + 1
        training_item.retired_at = None
    for name, value in fields.items():
        setattr(training_item, name, value)
    training_item.save()
    return training_item


@transaction.atomic
def training_item_remove(*, project: Project, by, training_item: TrainingItem) -> None:
    """A manager removes a training item: retired if anyone answered it (their answers and
    attempt scores stay as they were), deleted otherwise. Either way it is no longer served
    nor counted by the pass rule. Refused if the pass rule could no longer be met."""
    _require_manager(project, by)
    if training_item.project_id != project.pk:
        raise DomainError("This training item belongs to another project.")
    if training_item.retired_at is not None:
        raise DomainError("This training item was already removed.")
    remaining = TrainingItem.objects.active().filter(project=project).exclude(pk=training_item.pk)
    _check_rule_still_reachable(project, remaining.count())
    _retire_or_delete(TrainingItem.objects.filter(pk=training_item.pk))


def _retire_or_delete(training_items) -> None:
    answered = Exists(TrainingAnswer.objects.filter(training_item=OuterRef("pk")))
    training_items.filter(answered).update(retired_at=timezone.now())
    training_items.filter(~answered).delete()


@transaction.atomic
def qualification_rule_set(
    *, project: Project, by, min_correct: int, max_attempts: int | None = None
) -> QualificationRule:
    """A manager sets the pass rule: ``min_correct`` of the training items (at least 1, at most
    their number) and optionally a maximum number of attempts. While a rule exists the queue
    serves only qualified annotators. Raising ``max_attempts`` is how a manager lets someone
    who used up their attempts try again."""
    _require_manager(project, by)
    count = TrainingItem.objects.active().filter(project=project).count()
    if count == 0:
        raise DomainError("Choose training items before setting a pass rule.")
    if min_correct < 1:
        raise DomainError("At least one correct answer must be needed to pass.")
    if min_correct > count:
        raise DomainError(
            f"There are only {count} training items, so {min_correct} correct answers "
            "cannot be reached."
        )
    if max_attempts is not None and max_attempts < 1:
        raise DomainError("Allow at least one attempt (or leave it empty for unlimited).")
    rule, _ = QualificationRule.objects.update_or_create(
        project=project,
        defaults={"min_correct": min_correct, "max_attempts": max_attempts, "updated_by": by},
    )
    return rule


def _locked_state(project: Project, user) -> AnnotatorState:
    """The annotator's state row, locked: it serialises one annotator's starts and finishes."""
    state, _ = AnnotatorState.objects.get_or_create(project=project, user=user)
    return AnnotatorState.objects.select_for_update().get(pk=state.pk)


@transaction.atomic
def training_attempt_start(*, project: Project, annotator) -> TrainingAttempt:
    """An annotator starts a training attempt, recorded under the current guideline version.
    An unfinished attempt is returned as it is (a reload must not burn an attempt). Refused
    for non-annotators, when training is not set up, when already qualified, and when every
    allowed attempt is used."""
    if project.role_of(annotator) != Membership.Role.ANNOTATOR:
        raise PermissionDenied("Training is taken by the project's annotators.")
    state = _locked_state(project, annotator)
    if state.qualified_at is not None:
        raise DomainError("You are already qualified on this project.")
    unfinished = TrainingAttempt.objects.filter(
        project=project, annotator=annotator, finished_at__isnull=True
    ).first()
    if unfinished is not None:
        return unfinished
    rule = QualificationRule.objects.filter(project=project).first()
    if rule is None or not TrainingItem.objects.active().filter(project=project).exists():
        raise DomainError("Training is not set up yet: ask a project manager.")
    used = TrainingAttempt.objects.filter(project=project, annotator=annotator).count()
    if rule.max_attempts is not None and used >= rule.max_attempts:
        raise DomainError(
            f"You have used all {rule.max_attempts} training attempts. Re-read the guideline "
            "and ask a project manager to allow another attempt."
        )
    return TrainingAttempt.objects.create(
        project=project,
        annotator=annotator,
        number=used + 1,
        guideline_version=GuidelineVersion.objects.filter(project=project)
        .order_by("-number")
        .first(),
    )


def _finish(attempt: TrainingAttempt, now) -> None:
    project = attempt.project
    rule = QualificationRule.objects.filter(project=project).first()
    # Only items still in training count: an answer to one retired mid-attempt does not.
    attempt.total = TrainingItem.objects.active().filter(project=project).count()
    attempt.correct = attempt.answers.filter(
        is_correct=True, training_item__retired_at__isnull=True
    ).count()
    # Without a rule (a manager removed it mid-attempt) only a perfect score passes.
    needed = rule.min_correct if rule else attempt.total
    attempt.passed = attempt.correct >= needed
    attempt.finished_at = now
    attempt.save(update_fields=["total", "correct", "passed", "finished_at"])
    if attempt.passed:
        state = _locked_state(project, attempt.annotator)
        if state.qualified_at is None:
            state.qualified_at = now
            state.save(update_fields=["qualified_at", "updated_at"])


@transaction.atomic
def training_answer(
    *, attempt: TrainingAttempt, by, training_item: TrainingItem, answer: Any
) -> selectors.Feedback:
    """``by`` answers one training item of their unfinished attempt, once. The answer is
    checked against the schema and compared with the gold answer (multi-label as sets). The
    last answer finishes the attempt; passing qualifies the annotator. Returns the feedback
    shown to them: right or wrong, the gold answer, the explanation and guideline section."""
    attempt = (
        TrainingAttempt.objects.select_for_update(of=("self",))
        .select_related("project", "annotator")
        .get(pk=attempt.pk)
    )
    if attempt.annotator_id != by.pk:
        raise PermissionDenied("This training attempt is another annotator's.")
    if attempt.finished_at is not None:
        raise DomainError("This attempt is finished; start a new one to try again.")
    if training_item.project_id != attempt.project_id:
        raise DomainError("This training item belongs to another project.")
    if not TrainingItem.objects.active().filter(pk=training_item.pk).exists():
        raise DomainError("This item is no longer a training item.")
    if attempt.answers.filter(training_item=training_item).exists():
        raise DomainError("You have already answered this item in this attempt.")
    given = normalise_answer(
        answer_validate(
            schema_version=_final_schema(attempt.project),
            answer=answer,
            proposed_label=training_item.proposed_label,
        )
    )
    recorded = TrainingAnswer.objects.create(
        attempt=attempt,
        training_item=training_item,
        answer=given,
        is_correct=given == normalise_answer(training_item.answer),
    )
    if selectors.next_training_item(attempt) is None:
        _finish(attempt, timezone.now())
    return selectors.training_feedback(recorded)
