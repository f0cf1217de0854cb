from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dmops.models import StepState
from tests.dmops.factories import PASSWORD, ProjectFactory, UserFactory
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_is_refused_sign_off_without_goal_then_fills_goal_and_signs_off(page):
    manager = UserFactory(username="maya")
    project = ProjectFactory(manager=manager, name="Citation detector")

    log_in(page, "maya", PASSWORD)
    page.get_by_role("link", name="Citation detector").click()
    step1 = page.locator("#step-1")
    expect(step1.get_by_test_id("status")).to_have_text("Not started")

    step1.get_by_role("button", name="Start").click()
    expect(page.locator("#step-1").get_by_test_id("status")).to_have_text("Blocked")
    page.locator("#step-1").get_by_role("button", name="Sign off").click()
    alert = page.locator("#step-1 [role=alert]")
    expect(alert).to_contain_text("The goal has a success metric")
    expect(alert).to_contain_text("Missing: business need, intended model / use")

    page.get_by_role("link", name="Goal").click()
    page.get_by_label("Business need").fill("Editors need unsourced claims found.")
    page.get_by_label("Intended model / use").fill("A citation-needed detector.")
    page.get_by_label("Success metric").fill("Pilot alpha >= 0.8")
    page.get_by_role("button", name="Save goal").click()

    step1 = page.locator("#step-1")
    expect(step1.get_by_test_id("status")).to_have_text("In progress")
    step1.get_by_label("Note or reason for step 1").fill("Agreed with the editors")
    step1.get_by_role("button", name="Sign off").click()
    expect(page.locator("#step-1").get_by_test_id("status")).to_have_text("Done")
    page.locator("#step-1 .history summary").click()
    expect(page.locator("#step-1 .history")).to_contain_text("signed off: Agreed with the editors")

    assert StepState.objects.get(project=project, key=1).status == "done"
