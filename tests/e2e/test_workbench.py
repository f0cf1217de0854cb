from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotation.models import Annotation, GuidelineVersion
from tests.annotation.builders import make_batch, make_items
from tests.dmops.factories import PASSWORD, ProjectFactory, UserFactory
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY_ANSWERS = {"y": "yes", "n": "no", "u": "unsure"}


def test_annotator_labels_five_items_with_the_keyboard_and_undoes_one(page):
    manager = UserFactory(username="maya")
    annotator = UserFactory(username="ana")
    project = ProjectFactory(manager=manager, annotators=[annotator], name="Citation detector")
    items = make_items(project, 5)
    make_batch(project, items, by=manager, proposed_labels={i.pk: "claim" for i in items})
    GuidelineVersion.objects.create(
        project=project,
        number=1,
        body="# Guide\n\n" + "Long introduction.\n\n" * 40 + "## Claim\n\nNeeds a source.\n",
        change_summary="first",
        created_by=manager,
    )

    log_in(page, "ana", PASSWORD)
    page.goto(f"/projects/{project.pk}/work/")
    item = page.locator("#wb-item")
    sentence = item.get_by_test_id("sentence")
    expect(item).to_be_focused()
    expect(item).to_contain_text("Does this sentence need a citation?")

    # g opens the guideline beside the item at the label's section; Escape comes back.
    page.keyboard.press("g")
    expect(page.locator("#wb-guideline")).to_have_attribute("open", "")
    expect(page.locator("#sec-claim")).to_be_focused()
    page.keyboard.press("Escape")
    expect(item).to_be_focused()
    # q opens the question form; letters typed there are text, not answers.
    page.keyboard.press("q")
    expect(page.locator("#wb-ask-text")).to_be_focused()
    page.keyboard.type("yn")
    expect(page.locator("#wb-ask-text")).to_have_value("yn")
    page.keyboard.press("Escape")
    expect(item).to_be_focused()
    assert not Annotation.objects.exists()

    given: dict[str, str] = {}
    for done, key in enumerate("ynuyn"):
        expect(item.get_by_test_id("progress")).to_contain_text(f"{done} done by you")
        expect(item).to_be_focused()
        given[sentence.inner_text()] = KEY_ANSWERS[key]
        page.keyboard.press(key)
        if done < 4:
            expect(page.locator("#wb-status")).to_have_text("Answer saved. Next item.")
    expect(item).to_contain_text("Nothing left in open batches")
    last = list(given)[-1]

    page.keyboard.press("z")
    expect(sentence).to_have_text(last)
    expect(item).to_be_focused()
    expect(page.locator("#wb-status")).to_contain_text("undone")
    page.keyboard.press("u")
    given[last] = "unsure"
    expect(item).to_contain_text("Nothing left in open batches")

    stored = {a.item.text: a.answer for a in Annotation.objects.select_related("item")}
    assert stored == given
    assert set(Annotation.objects.values_list("annotator__username", flat=True)) == {"ana"}
    # The page measured the time on each item and sent it along.
    assert all(0 < a.seconds_spent < 60 for a in Annotation.objects.all())
