"""The issue's whole annotator journey in a real browser: an annotator qualifies, labels five
items with the keyboard only and asks a question on the way; a manager answers it, and the
annotator sees the answer when they come back to the workbench."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotation.models import Annotation, AnnotatorState, Question
from tests.annotation.builders import make_batch, make_items
from tests.annotation.test_training import set_up_training
from tests.dmops.factories import PASSWORD, ProjectFactory, UserFactory
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUESTION = "Does a claim in a quotation need its own citation?"
ANSWER = "No: the quotation's source covers it."


def qualify_with_the_keyboard(page, project) -> None:
    page.goto(f"/projects/{project.pk}/work/")
    # Not qualified yet: the workbench sends the annotator to training first.
    page.wait_for_url(f"**/projects/{project.pk}/training/")
    page.keyboard.press("Enter")  # "Start training" has the focus
    page.get_by_text("item 1 of 3").wait_for()
    page.keyboard.press("y")  # gold: yes
    page.get_by_text("✓ Right").wait_for()
    page.keyboard.press("Enter")
    page.get_by_text("item 2 of 3").wait_for()
    page.keyboard.press("y")  # gold: no
    page.get_by_text("Not quite").wait_for()
    page.keyboard.press("Enter")
    page.get_by_text("item 3 of 3").wait_for()
    page.keyboard.press("y")  # gold: yes
    page.get_by_text("That was the last item").wait_for()
    page.keyboard.press("Enter")
    page.get_by_text("You are qualified").wait_for()


def test_annotator_qualifies_labels_asks_and_reads_the_managers_answer(browser, live_server):
    manager = UserFactory(username="maya")
    annotator = UserFactory(username="ana")
    project = ProjectFactory(manager=manager, annotators=[annotator], name="Citation detector")
    set_up_training(project, manager, n=3, min_correct=2)
    items = make_items(project, 5, prefix="Main")
    make_batch(project, items, by=manager, proposed_labels={i.pk: "claim" for i in items})

    ana = browser.new_context(base_url=live_server.url)
    ana.set_default_timeout(10_000)
    page = ana.new_page()
    log_in(page, "ana", PASSWORD)
    qualify_with_the_keyboard(page, project)
    assert AnnotatorState.objects.get(project=project, user=annotator).qualified_at is not None

    page.goto(f"/projects/{project.pk}/work/")
    item = page.locator("#wb-item")
    sentence = item.get_by_test_id("sentence")
    given: dict[str, str] = {}
    for done, key in enumerate("yynny"):
        # Wait for the swap: until then the answered item still holds the focus.
        expect(item.get_by_test_id("progress")).to_contain_text(f"{done} done by you")
        expect(item).to_be_focused()
        if done == 2:
            # Ask about the item on screen, then go back to labelling without the mouse.
            page.keyboard.press("q")
            expect(page.locator("#wb-ask-text")).to_be_focused()
            page.keyboard.type(QUESTION)
            page.keyboard.press("Tab")  # the label select
            page.keyboard.press("Tab")  # "Send question"
            page.keyboard.press("Enter")
            expect(page.locator("#wb-ask-result")).to_contain_text("Question sent")
            page.keyboard.press("Escape")
            expect(item).to_be_focused()
            asked_about = sentence.inner_text()
        given[sentence.inner_text()] = {"y": "yes", "n": "no"}[key]
        page.keyboard.press(key)
    expect(item).to_contain_text("Nothing left in open batches")

    stored = {a.item.text: a.answer for a in Annotation.objects.select_related("item")}
    assert stored == given
    question = Question.objects.get(project=project)
    assert (question.text, question.asked_by, question.item.text) == (
        QUESTION,
        annotator,
        asked_about,
    )
    assert question.status == Question.Status.OPEN

    maya = browser.new_context(base_url=live_server.url)
    maya.set_default_timeout(10_000)
    manager_page = maya.new_page()
    log_in(manager_page, "maya", PASSWORD)
    manager_page.goto(f"/projects/{project.pk}/questions/?status=open")
    manager_page.get_by_role("link", name=QUESTION).click()
    manager_page.get_by_label("Answer").fill(ANSWER)
    manager_page.get_by_role("button", name="Answer").click()
    expect(manager_page.locator("main")).to_contain_text(ANSWER)
    question.refresh_from_db()
    assert (question.status, question.answer, question.answered_by) == (
        Question.Status.ANSWERED,
        ANSWER,
        manager,
    )

    # Back at the workbench, the annotator finds the answer waiting for them.
    page.goto(f"/projects/{project.pk}/work/")
    news = page.get_by_test_id("answer")
    expect(news).to_contain_text(QUESTION)
    expect(news).to_contain_text(ANSWER)
    maya.close()
    ana.close()
