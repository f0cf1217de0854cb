"""Step 7 training: training items and the pass rule, attempts and qualification, and the step 7
gate. The guideline sections shown after each answer are in test_guideline_sections.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from annotation import queue
from annotation.models import (
    AnnotatorState,
    GuidelineVersion,
    QualificationRule,
    TrainingAnswer,
    TrainingAttempt,
    TrainingItem,
)
from annotation.selectors import training as selectors
from annotation.selectors import training_setup as setup_selectors
from annotation.services import training as services
from dmops.errors import DomainError
from dmops.models import Membership
from dmops.steps import evaluate_checks
from tests.annotation.builders import annotators_on, make_batch, make_items, make_schema
from tests.dmops.factories import ProjectFactory

pytestmark = pytest.mark.django_db

GUIDELINE = """# Citation guideline

Read every sentence in its paragraph.

## Claim

A **claim** states a fact a reader could doubt.

### Examples

- "The café opened in 1652."

## Opinion

An opinion is the writer's view.

```
## Not a heading: inside a code block
```

Numbers
-------

Years and counts.
"""


# --- setup helpers --------------------------------------------------------------------------


def publish_guideline(project, body: str = GUIDELINE) -> GuidelineVersion:
    number = GuidelineVersion.objects.filter(project=project).count() + 1
    return GuidelineVersion.objects.create(
        project=project, number=number, body=body, change_summary="v"
    )


def set_up_training(project, manager, *, n: int = 3, min_correct: int = 2, max_attempts=None):
    """n binary training items whose gold answers alternate yes/no, and a pass rule."""
    if not project.schema_versions.exists():
        make_schema(project)
    if not project.guideline_versions.exists():
        publish_guideline(project)
    items = make_items(project, n, prefix="Training")
    services.training_items_set(
        project=project,
        by=manager,
        entries=[
            {
                "item_id": item.pk,
                "answer": "yes" if i % 2 == 0 else "no",
                "explanation": f"Because {i}.",
                "guideline_section": "Claim",
            }
            for i, item in enumerate(items)
        ],
    )
    services.qualification_rule_set(
        project=project, by=manager, min_correct=min_correct, max_attempts=max_attempts
    )
    return list(selectors.training_items(project))


def answer_all(project, annotator, answers):
    attempt = services.training_attempt_start(project=project, annotator=annotator)
    feedback = None
    for training_item, answer in zip(selectors.training_items(project), answers, strict=True):
        feedback = services.training_answer(
            attempt=attempt, by=annotator, training_item=training_item, answer=answer
        )
    attempt.refresh_from_db()
    return attempt, feedback


# --- training items and the rule -----------------------------------------------------------


def test_manager_sets_training_items_in_order(project, manager):
    items = set_up_training(project, manager, n=3)
    assert [t.position for t in items] == [0, 1, 2]
    assert [t.answer for t in items] == ["yes", "no", "yes"]
    assert items[0].guideline_section == "Claim" and items[0].created_by == manager


def test_setting_items_again_replaces_them(project, manager):
    first = set_up_training(project, manager, n=3, min_correct=1)
    services.training_items_set(
        project=project,
        by=manager,
        entries=[{"item_id": first[2].item_id, "answer": "no"}],
    )
    kept = list(selectors.training_items(project))
    assert [(t.pk, t.answer, t.position) for t in kept] == [(first[2].pk, "no", 0)]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"answer": "perhaps"}, "Answer one of yes, no, unsure"),
        ({"answer": "yes", "proposed_label": "sarcasm"}, "not a label of the schema"),
        ({"answer": "yes", "guideline_section": "Sarcasm"}, "no section 'Sarcasm'"),
    ],
)
def test_a_bad_entry_changes_nothing(project, manager, entry, message):
    make_schema(project)
    publish_guideline(project)
    good, bad = make_items(project, 2)
    with pytest.raises(DomainError, match=message):
        services.training_items_set(
            project=project,
            by=manager,
            entries=[{"item_id": good.pk, "answer": "yes"}, {"item_id": bad.pk, **entry}],
        )
    assert not TrainingItem.objects.exists()


def test_items_of_another_project_or_inactive_are_refused(project, manager):
    make_schema(project)
    mine, inactive = make_items(project, 2)
    inactive.is_active = False
    inactive.save()
    other = ProjectFactory()
    theirs = make_items(other, 1, prefix="Other")[0]
    for item in (inactive, theirs):
        with pytest.raises(DomainError, match=f"Not an active item of this project: {item.pk}"):
            services.training_item_add(project=project, by=manager, item_id=item.pk, answer="yes")
    with pytest.raises(DomainError, match="given twice"):
        services.training_items_set(
            project=project,
            by=manager,
            entries=[{"item_id": mine.pk, "answer": "yes"}, {"item_id": mine.pk, "answer": "no"}],
        )
    assert not TrainingItem.objects.exists()


def test_gold_answers_need_a_final_schema(project, manager):
    item = make_items(project, 1)[0]
    with pytest.raises(DomainError, match="schema version final"):
        services.training_item_add(project=project, by=manager, item_id=item.pk, answer="yes")


def test_proposed_label_makes_a_yes_no_item_and_multi_answers_are_sets(project, manager):
    make_schema(project, "multi", labels=("claim", "opinion", "date"))
    first, second = make_items(project, 2)
    verify = services.training_item_add(
        project=project, by=manager, item_id=first.pk, answer="no", proposed_label="claim"
    )
    multi = services.training_item_add(
        project=project, by=manager, item_id=second.pk, answer=["opinion", "claim"]
    )
    assert verify.answer == "no" and multi.answer == ["claim", "opinion"]
    assert multi.position == verify.position + 1
    with pytest.raises(DomainError, match="Unknown labels: sarcasm"):
        services.training_item_add(
            project=project, by=manager, item_id=first.pk, answer=["sarcasm"]
        )


def test_only_managers_set_up_training(project, reviewer, annotator):
    make_schema(project)
    item = make_items(project, 1)[0]
    for user in (reviewer, annotator):
        with pytest.raises(PermissionDenied):
            services.training_item_add(project=project, by=user, item_id=item.pk, answer="yes")
        with pytest.raises(PermissionDenied):
            services.qualification_rule_set(project=project, by=user, min_correct=1)


def test_rule_needs_items_and_a_reachable_minimum(project, manager):
    with pytest.raises(DomainError, match="Choose training items"):
        services.qualification_rule_set(project=project, by=manager, min_correct=1)
    set_up_training(project, manager, n=3, min_correct=3)
    with pytest.raises(DomainError, match="only 3 training items"):
        services.qualification_rule_set(project=project, by=manager, min_correct=4)
    with pytest.raises(DomainError, match="At least one"):
        services.qualification_rule_set(project=project, by=manager, min_correct=0)
    with pytest.raises(DomainError, match="at least one attempt"):
        services.qualification_rule_set(project=project, by=manager, min_correct=2, max_attempts=0)
    assert QualificationRule.objects.get(project=project).min_correct == 3


def test_removing_items_below_the_rule_is_refused(project, manager):
    items = set_up_training(project, manager, n=3, min_correct=3)
    with pytest.raises(DomainError, match="needs 3 correct answers"):
        services.training_item_remove(project=project, by=manager, training_item=items[0])
    services.qualification_rule_set(project=project, by=manager, min_correct=2)
    services.training_item_remove(project=project, by=manager, training_item=items[0])
    assert TrainingItem.objects.filter(project=project).count() == 2


# --- attempts ------------------------------------------------------------------------------


def test_passing_qualifies_and_the_queue_then_serves_the_annotator(project, manager, annotator):
    set_up_training(project, manager, n=3, min_correct=2)
    make_batch(project, make_items(project, 2, prefix="Work"))
    assert queue.work_refusal(project=project, annotator=annotator) == "not_qualified"
    assert queue.next_item(project=project, annotator=annotator) is None
    attempt, feedback = answer_all(project, annotator, ["yes", "yes", "yes"])
    assert (attempt.correct, attempt.total, attempt.passed) == (2, 3, True)
    assert attempt.finished_at is not None and feedback.attempt_finished
    assert AnnotatorState.objects.get(project=project, user=annotator).qualified_at is not None
    assert queue.next_item(project=project, annotator=annotator) is not None


def test_failing_leaves_the_annotator_unqualified_and_a_retry_is_a_new_attempt(
    project, manager, annotator
):
    set_up_training(project, manager, n=3, min_correct=3)
    first, _ = answer_all(project, annotator, ["yes", "yes", "yes"])
    assert (first.correct, first.passed, first.number) == (2, False, 1)
    assert queue.work_refusal(project=project, annotator=annotator) == "not_qualified"
    second, _ = answer_all(project, annotator, ["yes", "no", "yes"])
    assert (second.number, second.correct, second.passed) == (2, 3, True)


def test_max_attempts_is_enforced_and_raising_it_allows_a_retry(project, manager, annotator):
    set_up_training(project, manager, n=2, min_correct=2, max_attempts=1)
    answer_all(project, annotator, ["no", "no"])
    with pytest.raises(DomainError, match="used all 1 training attempts"):
        services.training_attempt_start(project=project, annotator=annotator)
    services.qualification_rule_set(project=project, by=manager, min_correct=2, max_attempts=2)
    assert services.training_attempt_start(project=project, annotator=annotator).number == 2


def test_starting_again_returns_the_unfinished_attempt(project, manager, annotator):
    set_up_training(project, manager)
    first = services.training_attempt_start(project=project, annotator=annotator)
    assert services.training_attempt_start(project=project, annotator=annotator) == first
    assert TrainingAttempt.objects.count() == 1


def test_start_records_the_guideline_version_and_is_refused_when_qualified(
    project, manager, annotator
):
    set_up_training(project, manager, n=1, min_correct=1)
    current = publish_guideline(project, GUIDELINE + "\n## New section\n")
    attempt, _ = answer_all(project, annotator, ["yes"])
    assert attempt.guideline_version == current
    with pytest.raises(DomainError, match="already qualified"):
        services.training_attempt_start(project=project, annotator=annotator)


def test_start_needs_an_annotator_and_a_set_up_training(project, manager, reviewer, annotator):
    with pytest.raises(DomainError, match="not set up"):
        services.training_attempt_start(project=project, annotator=annotator)
    set_up_training(project, manager)
    for user in (manager, reviewer):
        with pytest.raises(PermissionDenied):
            services.training_attempt_start(project=project, annotator=user)


def test_answer_feedback_has_gold_explanation_and_section(project, manager, annotator):
    items = set_up_training(project, manager)
    attempt = services.training_attempt_start(project=project, annotator=annotator)
    assert selectors.next_training_item(attempt) == items[0]
    feedback = services.training_answer(
        attempt=attempt, by=annotator, training_item=items[0], answer="no"
    )
    assert (feedback.is_correct, feedback.given, feedback.gold) == (False, "no", "yes")
    assert (feedback.given_display, feedback.gold_display) == ("No", "Yes")
    assert feedback.explanation == "Because 0."
    assert feedback.section_heading == "Claim"
    assert "<strong>claim</strong> states a fact" in feedback.section_html
    assert "Opinion" not in feedback.section_html and 'id="sec-' not in feedback.section_html
    assert not feedback.attempt_finished
    assert selectors.next_training_item(attempt) == items[1]
    assert selectors.last_feedback(project, annotator).answer == feedback.answer


def test_multi_label_answers_compare_as_sets(project, manager, annotator):
    make_schema(project, "multi", labels=("claim", "opinion", "date"))
    item = make_items(project, 1)[0]
    training_item = services.training_item_add(
        project=project, by=manager, item_id=item.pk, answer=["opinion", "claim"]
    )
    services.qualification_rule_set(project=project, by=manager, min_correct=1)
    attempt = services.training_attempt_start(project=project, annotator=annotator)
    feedback = services.training_answer(
        attempt=attempt, by=annotator, training_item=training_item, answer=["claim", "opinion"]
    )
    assert feedback.is_correct and feedback.gold_display == "Claim, Opinion"


def test_an_item_is_answered_once_per_attempt_with_a_valid_answer(project, manager, annotator):
    items = set_up_training(project, manager)
    attempt = services.training_attempt_start(project=project, annotator=annotator)
    with pytest.raises(DomainError, match="Answer one of"):
        services.training_answer(
            attempt=attempt, by=annotator, training_item=items[0], answer="maybe"
        )
    services.training_answer(attempt=attempt, by=annotator, training_item=items[0], answer="yes")
    with pytest.raises(DomainError, match="already answered"):
        services.training_answer(attempt=attempt, by=annotator, training_item=items[0], answer="no")
    assert TrainingAnswer.objects.filter(attempt=attempt).count() == 1


def test_answers_go_only_to_ones_own_unfinished_attempt(project, manager, annotator):
    items = set_up_training(project, manager, n=1, min_correct=1)
    other = annotators_on(project, 1)[0]
    attempt = services.training_attempt_start(project=project, annotator=annotator)
    with pytest.raises(PermissionDenied):
        services.training_answer(attempt=attempt, by=other, training_item=items[0], answer="yes")
    services.training_answer(attempt=attempt, by=annotator, training_item=items[0], answer="no")
    with pytest.raises(DomainError, match="finished"):
        services.training_answer(attempt=attempt, by=annotator, training_item=items[0], answer="no")


# --- selectors for the pages ---------------------------------------------------------------


def test_trainee_state_counts_attempts(project, manager, annotator):
    set_up_training(project, manager, n=2, min_correct=2, max_attempts=3)
    answer_all(project, annotator, ["no", "no"])
    state = selectors.trainee_state(project, annotator)
    assert (state.attempts_used, state.attempts_left, state.can_start) == (1, 2, True)
    assert state.last_finished.correct == 1 and state.current is None


def test_setup_rows_show_best_score_and_status(project, manager, annotator):
    set_up_training(project, manager, n=2, min_correct=2)
    answer_all(project, annotator, ["no", "no"])
    answer_all(project, annotator, ["yes", "no"])
    (row,) = setup_selectors.training_setup(project).annotators
    assert row.user == annotator and len(row.attempts) == 2
    assert (row.best.number, row.best.correct) == (2, 2) and row.qualified_at is not None


# --- the step 7 gate -----------------------------------------------------------------------


def outcomes(project):
    return {o.check.key: o for o in evaluate_checks(project, 7)}


def test_gate_needs_items_and_a_rule(project, manager):
    assert outcomes(project)["training_set_up"].result.detail == (
        "No training items have been chosen."
    )
    set_up_training(project, manager, n=3, min_correct=2)
    check = outcomes(project)["training_set_up"]
    assert check.passed and check.result.detail == "3 training items; pass with 2 correct."


def test_gate_names_unqualified_active_annotators(project, manager, annotator):
    set_up_training(project, manager, n=1, min_correct=1)
    more = annotators_on(project, 6)
    # Paused the way the team page does it; the service lives in another area.
    AnnotatorState.objects.create(project=project, user=more[0], paused=True)
    check = outcomes(project)["annotators_qualified"]
    waiting = sorted([annotator.username, *(u.username for u in more[1:])])
    assert not check.passed
    assert check.result.detail == f"Not qualified yet: {', '.join(waiting[:5])} and 1 more."
    for user in [annotator, *more[1:]]:
        answer_all(project, user, ["yes"])
    check = outcomes(project)["annotators_qualified"]
    assert check.passed and check.result.detail == "All 6 active annotators are qualified."


def test_gate_fails_without_active_annotators(manager):
    project = ProjectFactory(manager=manager)
    assert not project.memberships.filter(role=Membership.Role.ANNOTATOR).exists()
    check = outcomes(project)["annotators_qualified"]
    assert not check.passed and check.result.detail == "No active annotator to instruct."
