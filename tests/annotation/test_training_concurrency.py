"""Training under real concurrency (PostgreSQL, one connection per thread): two tabs of one
annotator answering or starting at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from annotation.models import AnnotatorState, TrainingAnswer, TrainingAttempt
from annotation.selectors import training as selectors
from annotation.services import training as services
from dmops.errors import DomainError
from tests.annotation.test_training import set_up_training

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent writers with row locks")


def race(*works: Callable[[], object]) -> list:
    """Run the callables in threads released together; return each result or exception."""
    barrier = threading.Barrier(len(works))
    results: list = [None] * len(works)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = works[index]()
        except BaseException as exc:  # noqa: BLE001 — handed back to the test thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_the_last_two_answers_at_once_finish_the_attempt_once(project, manager, annotator):
    items = set_up_training(project, manager, n=2, min_correct=2)
    attempt = services.training_attempt_start(project=project, annotator=annotator)
    results = race(
        *(
            lambda t=t, a=a: services.training_answer(
                attempt=attempt, by=annotator, training_item=t, answer=a
            )
            for t, a in zip(items, ["yes", "no"], strict=True)
        )
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    attempt.refresh_from_db()
    assert attempt.finished_at is not None
    assert (attempt.correct, attempt.total, attempt.passed) == (2, 2, True)
    assert AnnotatorState.objects.get(project=project, user=annotator).qualified_at is not None


def test_the_same_item_answered_twice_at_once_is_recorded_once(project, manager, annotator):
    items = set_up_training(project, manager, n=2, min_correct=1)
    attempt = services.training_attempt_start(project=project, annotator=annotator)
    results = race(
        *(
            lambda: services.training_answer(
                attempt=attempt, by=annotator, training_item=items[0], answer="yes"
            )
            for _ in range(2)
        )
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], DomainError), results
    assert TrainingAnswer.objects.filter(attempt=attempt).count() == 1
    assert selectors.next_training_item(attempt) == items[1]


def test_two_starts_at_once_make_one_attempt(project, manager, annotator):
    set_up_training(project, manager)
    results = race(
        *(
            lambda: services.training_attempt_start(project=project, annotator=annotator)
            for _ in range(3)
        )
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len({r.pk for r in results}) == 1
    assert TrainingAttempt.objects.filter(annotator=annotator).count() == 1
