"""The workbench's side panels: the guideline opened at the item's label, the ask form that
feeds the question log, and the notice of answers the annotator has not seen yet."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.models import GuidelineVersion, Question
from tests.annotation.builders import make_batch, make_items, make_schema
from tests.annotation.test_workbench import HTMX, current_lease, work_url

pytestmark = pytest.mark.django_db


# --- guideline, questions, answers --------------------------------------------------------------


def test_guideline_panel_opens_at_the_section_of_the_items_label(as_annotator, project, guideline):
    make_schema(project, labels=("claim",))
    make_batch(project, make_items(project, 1))
    page = as_annotator.get(work_url(project)).content.decode()
    assert 'data-guideline-section="sec-claim"' in page
    assert '<details id="wb-guideline">' in page and 'id="sec-claim"' in page
    assert "Guideline v1" in page


def test_ask_form_posts_to_the_question_log(as_annotator, project, annotator, binary_batch):
    page = as_annotator.get(work_url(project)).content.decode()
    item_id = current_lease(annotator).batch_item.item_id
    form = re.search(r'<details class="wb-ask".*?</details>', page, re.S).group(0)
    assert f'action="{reverse("question_ask", args=[project.pk])}"' in form
    assert f'name="item" value="{item_id}"' in form
    assert 'name="text"' in form and 'name="label"' in form
    assert f'name="next" value="{work_url(project)}"' in form


def answered(project, asker, manager, text, *, promoted_to=None, seen=False):
    now = timezone.now()
    return Question.objects.create(
        project=project,
        asked_by=asker,
        text=text,
        status="promoted" if promoted_to else "answered",
        answer=f"Answer to {text}",
        answered_by=manager,
        answered_at=now,
        answer_seen_at=now if seen else None,
        promoted_to=promoted_to,
    )


def test_unseen_answers_are_shown_until_marked_seen(
    as_annotator, project, annotator, reviewer, manager, binary_batch
):
    as_annotator.get(work_url(project))  # joins now; later promotions are news
    mine = answered(project, annotator, manager, "Is a quote a claim?")
    answered(project, annotator, manager, "Already read", seen=True)
    version = GuidelineVersion.objects.create(
        project=project, number=7, body="# G", change_summary="promoted", created_by=manager
    )
    theirs = answered(project, reviewer, manager, "What about lists?", promoted_to=version)
    answered(project, reviewer, manager, "Private to the reviewer")
    page = as_annotator.get(work_url(project)).content.decode()
    assert "Answer to Is a quote a claim?" in page and "Answer to What about lists?" in page
    assert "Already read" not in page and "Private to the reviewer" not in page

    response = as_annotator.post(
        work_url(project, "workbench_answers_seen"), {"question": [mine.pk, theirs.pk]}, **HTMX
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.answer_seen_at is not None
    page = as_annotator.get(work_url(project)).content.decode()
    assert 'id="wb-news"' not in page
    theirs.refresh_from_db()
    assert theirs.answer_seen_at is None  # the asker's own flag is theirs to clear


def test_marking_seen_ignores_questions_not_shown(
    as_annotator, project, annotator, reviewer, manager
):
    other = answered(project, reviewer, manager, "Not yours")
    response = as_annotator.post(
        work_url(project, "workbench_answers_seen"), {"question": [other.pk]}
    )
    assert response.status_code == 303
    other.refresh_from_db()
    assert other.answer_seen_at is None
