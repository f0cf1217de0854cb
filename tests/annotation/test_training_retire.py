"""Step 7: removing a training item keeps the answers given to it. An answered item is retired
(no longer served nor counted), an unanswered one deleted; past attempts keep their scores."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import TrainingAnswer, TrainingAttempt, TrainingItem
from annotation.selectors import training as selectors
from annotation.selectors import training_setup as setup_selectors
from annotation.services import training as services
from dmops.errors import DomainError
from dmops.steps import evaluate_checks
from tests.annotation.test_training import answer_all, set_up_training
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def remove(project, manager, training_item) -> None:
    services.training_item_remove(project=project, by=manager, training_item=training_item)


def test_removing_an_answered_item_keeps_its_answers_and_the_attempt_score(
    project, manager, annotator
):
    items = set_up_training(project, manager, n=3, min_correct=2)
    attempt, _ = answer_all(project, annotator, ["yes", "yes", "no"])
    assert (attempt.correct, attempt.total, attempt.passed) == (1, 3, False)

    remove(project, manager, items[0])

    retired = TrainingItem.objects.get(pk=items[0].pk)
    assert retired.retired_at is not None
    assert TrainingAnswer.objects.filter(attempt=attempt).count() == 3
    assert TrainingAnswer.objects.get(attempt=attempt, training_item=retired).is_correct
    attempt.refresh_from_db()
    assert (attempt.correct, attempt.total, attempt.passed) == (1, 3, False)
    assert [t.pk for t in selectors.training_items(project)] == [items[1].pk, items[2].pk]


def test_removing_an_unanswered_item_deletes_it(project, manager, annotator):
    items = set_up_training(project, manager, n=3, min_correct=2)
    remove(project, manager, items[0])
    assert not TrainingItem.objects.filter(pk=items[0].pk).exists()


def test_a_retired_item_is_not_served_to_a_new_attempt_nor_counted(project, manager, annotator):
    items = set_up_training(project, manager, n=3, min_correct=2, max_attempts=3)
    first, _ = answer_all(project, annotator, ["no", "no", "no"])  # only the second is right
    assert (first.correct, first.total, first.passed) == (1, 3, False)
    remove(project, manager, items[1])
    assert selectors.trainee_state(project, annotator).item_count == 2

    second = services.training_attempt_start(project=project, annotator=annotator)
    served = []
    while (next_item := selectors.next_training_item(second)) is not None:
        served.append(next_item.pk)
        services.training_answer(
            attempt=second, by=annotator, training_item=next_item, answer=next_item.answer
        )
    second.refresh_from_db()
    assert served == [items[0].pk, items[2].pk]
    assert (second.correct, second.total, second.passed) == (2, 2, True)
    first.refresh_from_db()
    assert (first.correct, first.total) == (1, 3)


def test_an_answer_to_an_item_retired_mid_attempt_does_not_count(project, manager, annotator):
    items = set_up_training(project, manager, n=3, min_correct=2)
    attempt = services.training_attempt_start(project=project, annotator=annotator)
    services.training_answer(attempt=attempt, by=annotator, training_item=items[0], answer="yes")
    remove(project, manager, items[0])
    assert selectors.attempt_progress(attempt).answered == 0
    with pytest.raises(DomainError, match="no longer a training item"):
        services.training_answer(
            attempt=attempt, by=annotator, training_item=items[0], answer="yes"
        )
    for training_item, value in ((items[1], "no"), (items[2], "no")):
        services.training_answer(
            attempt=attempt, by=annotator, training_item=training_item, answer=value
        )
    attempt.refresh_from_db()
    assert (attempt.correct, attempt.total, attempt.passed) == (1, 2, False)


def test_the_rule_and_the_gate_count_active_items_only(project, manager, annotator):
    items = set_up_training(project, manager, n=3, min_correct=2)
    answer_all(project, annotator, ["yes", "no", "yes"])
    remove(project, manager, items[2])
    with pytest.raises(DomainError, match="only 2 training items"):
        services.qualification_rule_set(project=project, by=manager, min_correct=3)
    with pytest.raises(DomainError, match="needs 2 correct answers"):
        remove(project, manager, items[1])
    gate = next(o for o in evaluate_checks(project, 7) if o.check.key == "training_set_up")
    assert gate.result.passed and gate.result.detail.startswith("2 training items")


def test_removing_twice_is_refused(project, manager, annotator):
    items = set_up_training(project, manager, n=3, min_correct=1)
    answer_all(project, annotator, ["yes", "yes", "yes"])
    remove(project, manager, items[0])
    with pytest.raises(DomainError, match="already removed"):
        remove(project, manager, TrainingItem.objects.get(pk=items[0].pk))


def test_replacing_the_items_retires_answered_ones_and_adding_one_back_reactivates_it(
    project, manager, annotator
):
    items = set_up_training(project, manager, n=3, min_correct=1)
    attempt = services.training_attempt_start(project=project, annotator=annotator)
    services.training_answer(attempt=attempt, by=annotator, training_item=items[0], answer="yes")
    services.training_items_set(
        project=project, by=manager, entries=[{"item_id": items[2].item_id, "answer": "yes"}]
    )
    assert TrainingItem.objects.get(pk=items[0].pk).retired_at is not None  # answered: kept
    assert not TrainingItem.objects.filter(pk=items[1].pk).exists()  # never answered
    assert TrainingAnswer.objects.filter(training_item=items[0].pk).exists()

    back = services.training_item_add(
        project=project, by=manager, item_id=items[0].item_id, answer="no"
    )
    assert back.pk == items[0].pk and back.retired_at is None
    assert [(t.pk, t.position) for t in selectors.training_items(project)] == [
        (items[2].pk, 0),
        (items[0].pk, 1),
    ]


def test_the_setup_page_lists_retired_items_apart(client, project, manager, annotator):
    items = set_up_training(project, manager, n=3, min_correct=1)
    answer_all(project, annotator, ["yes", "yes", "yes"])
    remove(project, manager, items[0])
    setup = setup_selectors.training_setup(project)
    assert [t.pk for t in setup.items] == [items[1].pk, items[2].pk]
    assert [t.pk for t in setup.retired] == [items[0].pk]
    page = client_for(client, manager).get(reverse("training", args=[project.pk]))
    html = page.content.decode()
    assert f'id="training-item-{items[0].pk}"' not in html
    assert f'id="retired-item-{items[0].pk}"' in html and "Retired training items (1)" in html
    # The annotator's finished attempt is still listed with its score.
    assert TrainingAttempt.objects.get(annotator=annotator).correct == 2


def test_the_api_lists_active_items_only(api, project, manager, annotator):
    items = set_up_training(project, manager, n=3, min_correct=1)
    answer_all(project, annotator, ["yes", "yes", "yes"])
    remove(project, manager, items[0])
    api.force_authenticate(manager)
    listed = api.get(reverse("api_training_items", args=[project.pk])).json()
    assert [row["item_id"] for row in listed] == [items[1].item_id, items[2].item_id]
