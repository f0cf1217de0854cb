"""Promotions under real concurrency (PostgreSQL): each Q&A lands in the guideline exactly
once, and none is lost when several are promoted at the same moment."""

from __future__ import annotations

import contextlib
import threading

import pytest

from annotation.models import GuidelineVersion, Question
from annotation.services import questions as services
from annotation.services.guideline import guideline_publish
from dmops.errors import DomainError
from tests.annotation.test_queue_concurrency import postgres_only, run_in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
__all__ = ["postgres_only"]  # the autouse fixture, imported so it applies here too


@pytest.fixture
def guideline(project, manager):
    return guideline_publish(project=project, by=manager, body="# Guide\n", change_summary="v1")


def answered(project, annotator, manager, text: str) -> Question:
    question = services.question_ask(project=project, by=annotator, text=text)
    return services.question_answer(question=question, by=manager, answer=f"Answer to {text}")


def test_the_same_question_promoted_at_once_makes_one_version(
    project, manager, annotator, guideline
):
    question = answered(project, annotator, manager, "Once?")
    refused = []

    def work(user) -> None:
        try:
            services.question_promote(question=question, by=user)
        except DomainError:
            refused.append(user)

    run_in_threads([manager] * 4, work)
    assert len(refused) == 3
    assert GuidelineVersion.objects.filter(project=project).count() == 2
    question.refresh_from_db()
    assert question.promoted_to.number == 2


def test_different_questions_promoted_at_once_all_reach_the_guideline(
    project, manager, annotator, guideline, monkeypatch
):
    questions = [answered(project, annotator, manager, f"Question {i}?") for i in range(4)]
    by_user = {i: q for i, q in enumerate(questions)}
    # Hold every promotion at the point where it has read the current body, until all four
    # are there: without the project lock they all build on v1 and the last one published
    # drops the others' Q&As. With the lock only one gets there at a time, the barrier times
    # out once and breaks, and the rest pass straight through.
    all_read = threading.Barrier(len(questions), timeout=2)
    build = services.body_with_clarification

    def build_when_all_have_read(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            all_read.wait()
        return build(*args, **kwargs)

    monkeypatch.setattr(services, "body_with_clarification", build_when_all_have_read)

    def work(index) -> None:
        services.question_promote(question=by_user[index], by=manager)

    run_in_threads(list(by_user), work)
    versions = GuidelineVersion.objects.filter(project=project).order_by("number")
    assert [v.number for v in versions] == [1, 2, 3, 4, 5]
    latest = versions.last().body
    for question in questions:
        assert question.text in latest and question.answer in latest
    assert latest.count("## Clarifications") == 1
