"""The htmx pages: what each persona may see and do, and that htmx gets fragments."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dmops.models import StepState
from tests.dmops.factories import COMPLETE_GOAL

pytestmark = pytest.mark.django_db

READ_PAGES = ["project_board", "project_goal", "project_members"]


def login(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("page", READ_PAGES)
@pytest.mark.parametrize("persona", ["manager", "reviewer", "annotator"])
def test_members_can_read_project_pages(client, project, personas, persona, page):
    response = login(client, personas[persona]).get(reverse(page, args=[project.pk]))
    assert response.status_code == 200
    assert project.name in response.content.decode()


@pytest.mark.parametrize("page", READ_PAGES)
def test_outsider_gets_403_and_no_data(client, project, outsider, page):
    response = login(client, outsider).get(reverse(page, args=[project.pk]))
    assert response.status_code == 403
    assert project.name not in response.content.decode()


@pytest.mark.parametrize(
    "name,args,data",
    [
        ("step_transition", [1], {"action": "start"}),
        ("step_assign", [1], {"due_date": "2027-01-01"}),
        ("step_notes", [1], {"notes": "x"}),
        ("project_goal", [], {"name": "Hijacked"}),
        ("project_members", [], {"username": "outsider", "role": "manager"}),
    ],
)
def test_outsider_cannot_post_anything(client, project, outsider, name, args, data):
    response = login(client, outsider).post(reverse(name, args=[project.pk, *args]), data)
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.name != "Hijacked"
    assert not project.memberships.filter(user=outsider).exists()


def test_anonymous_is_sent_to_login(client, project):
    response = client.get(reverse("project_board", args=[project.pk]))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_dashboard_lists_only_my_projects_with_progress(client, project, annotator, outsider):
    page = login(client, annotator).get(reverse("dashboard")).content.decode()
    assert project.name in page and "1. Establish the Project Goal" in page
    assert page.count('<li class="seg ') == 12
    assert project.name not in login(client, outsider).get(reverse("dashboard")).content.decode()


def test_dashboard_shows_blocked_step_and_open_blockers(client, project, manager):
    client = login(client, manager)
    client.post(reverse("step_transition", args=[project.pk, 1]), {"action": "start"})
    page = client.get(reverse("dashboard")).content.decode()
    assert 'class="seg blocked"' in page
    assert '<span class="badge blocked">2</span>' in page  # both goal checks fail


def test_annotator_cannot_change_steps_and_is_told_why(client, project, annotator):
    response = login(client, annotator).post(
        reverse("step_transition", args=[project.pk, 1]), {"action": "start"}
    )
    assert response.status_code == 403
    assert "Only a project manager can start a step" in response.content.decode()
    assert StepState.objects.get(project=project, key=1).status == "not_started"


def test_htmx_sign_off_refusal_returns_board_fragment_naming_failing_check(
    client, project, manager
):
    client = login(client, manager)
    url = reverse("step_transition", args=[project.pk, 1])
    client.post(url, {"action": "start"}, headers={"HX-Request": "true"})
    response = client.post(url, {"action": "sign_off"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="board"' in html
    assert "The goal has a success metric" in html and 'role="alert"' in html


def test_manager_fills_goal_then_signs_off_without_htmx(client, project, manager):
    client = login(client, manager)
    client.post(
        reverse("project_goal", args=[project.pk]),
        {"name": project.name, **COMPLETE_GOAL},
    )
    url = reverse("step_transition", args=[project.pk, 1])
    client.post(url, {"action": "start"})
    response = client.post(url, {"action": "sign_off", "note": "Goal agreed"})
    assert response.status_code == 302
    assert StepState.objects.get(project=project, key=1).status == "done"


def test_reviewer_can_read_goal_but_not_edit_it(client, project, reviewer):
    client = login(client, reviewer)
    assert (
        '<form method="post" id="goal-form"'
        not in client.get(reverse("project_goal", args=[project.pk])).content.decode()
    )
    response = client.post(reverse("project_goal", args=[project.pk]), {"name": "Renamed"})
    assert response.status_code == 403


def test_reviewer_can_edit_step_notes_annotator_cannot(client, project, reviewer, annotator):
    url = reverse("step_notes", args=[project.pk, 2])
    assert login(client, reviewer).post(url, {"notes": "licence: CC BY-SA"}).status_code == 302
    assert StepState.objects.get(project=project, key=2).notes == "licence: CC BY-SA"
    assert login(client, annotator).post(url, {"notes": "x"}).status_code == 403


def test_manager_adds_and_removes_member_with_htmx(client, project, manager, outsider):
    client = login(client, manager)
    response = client.post(
        reverse("project_members", args=[project.pk]),
        {"username": "outsider", "role": "annotator"},
        headers={"HX-Request": "true"},
    )
    assert 'id="member-panel"' in response.content.decode()
    assert project.role_of(outsider) == "annotator"
    client.post(
        reverse("member_remove", args=[project.pk, outsider.pk]), headers={"HX-Request": "true"}
    )
    assert project.role_of(outsider) is None


def test_annotator_cannot_add_members(client, project, annotator, outsider):
    response = login(client, annotator).post(
        reverse("project_members", args=[project.pk]), {"username": "outsider", "role": "manager"}
    )
    assert response.status_code == 403
    assert project.role_of(outsider) is None


def test_any_user_can_create_a_project_and_becomes_its_manager(client, outsider):
    response = login(client, outsider).post(reverse("project_create"), {"name": "Mine"})
    assert response.status_code == 302
    from dmops.models import Project

    assert Project.objects.get(name="Mine").is_manager(outsider)


def test_a_flash_message_shows_once_on_the_page_after_the_redirect(client, outsider):
    # The message storage is made on first use (dmops.middleware.LazyMessageMiddleware).
    login(client, outsider)
    response = client.post(reverse("project_create"), {"name": "Flash"}, follow=True)
    assert "Project “Flash” created. Start with step 1." in response.content.decode()
    again = client.get(response.redirect_chain[-1][0])
    assert "created. Start with step 1." not in again.content.decode()


def test_a_page_that_shows_no_message_leaves_a_pending_one_for_the_next(client, outsider):
    login(client, outsider)
    client.post(reverse("project_create"), {"name": "Later"})
    client.get(reverse("api_projects"))  # uses no messages: must not consume or drop them
    assert "Project “Later” created." in client.get(reverse("dashboard")).content.decode()


def test_login_logout_and_password_change(client, annotator):
    assert (
        client.post(
            reverse("login"), {"username": "annotator", "password": "correct-horse-battery"}
        ).status_code
        == 302
    )
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "correct-horse-battery",
            "new_password1": "a-new-long-passphrase-42",
            "new_password2": "a-new-long-passphrase-42",
        },
    )
    assert response.status_code == 302
    client.post(reverse("logout"))
    assert client.get(reverse("dashboard")).status_code == 302
    assert client.login(username="annotator", password="a-new-long-passphrase-42")
