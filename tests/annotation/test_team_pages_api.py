"""The Team page, the invitation link and the team REST API: who may see and do what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation import queue
from annotation.models import AnnotatorState, Invitation, Lease
from annotation.services import team as services
from tests.annotation.builders import annotators_on, make_batch, make_items
from tests.dmops.factories import UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def login(client, user):
    client.force_login(user)
    return client


def as_user(api, user):
    api.force_authenticate(user)
    return api


@pytest.fixture
def pending(project, manager):
    return services.member_invite(
        project=project, by=manager, identifier="newbie@example.org", role="annotator"
    )


@pytest.fixture
def emails(manager, reviewer, annotator):
    for user in (manager, reviewer, annotator):
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])


# --- the page -----------------------------------------------------------------------------------


def test_manager_sees_roster_emails_invite_form_and_invitation_links(
    client, project, manager, emails, pending
):
    page = login(client, manager).get(reverse("team", args=[project.pk])).content.decode()
    assert "reviewer@example.org" in page and "annotator@example.org" in page
    assert 'id="invite-form"' in page
    assert "newbie@example.org" in page
    assert reverse("invitation_accept", args=[pending.token]) in page
    assert (
        reverse("team_pause", args=[project.pk, project.memberships.get(role="annotator").user_id])
        in page
    )


def test_reviewer_reads_the_roster_but_cannot_change_it(client, project, reviewer, emails, pending):
    page = login(client, reviewer).get(reverse("team", args=[project.pk])).content.decode()
    assert "annotator@example.org" in page and "newbie@example.org" in page
    assert 'id="invite-form"' not in page and "Pause" not in page
    assert pending.token not in page


def test_annotator_sees_names_and_statuses_but_no_emails(
    client, project, annotator, emails, pending
):
    page = login(client, annotator).get(reverse("team", args=[project.pk])).content.decode()
    assert "reviewer" in page and "Invited" in page
    assert "@example.org" not in page
    assert 'id="invite-form"' not in page and "Pause" not in page


def test_outsider_gets_403_and_anonymous_is_sent_to_login(client, project, outsider):
    url = reverse("team", args=[project.pk])
    assert client.get(url).status_code == 302
    response = login(client, outsider).get(url)
    assert response.status_code == 403 and project.name not in response.content.decode()


def test_invite_without_javascript_redirects_with_a_message(client, project, manager):
    UserFactory(username="fay")
    response = login(client, manager).post(
        reverse("team", args=[project.pk]), {"identifier": "fay", "role": "reviewer"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("team", args=[project.pk])
    assert "fay added as reviewer" in response.content.decode()
    assert project.memberships.filter(user__username="fay", role="reviewer").exists()


def test_invite_with_htmx_swaps_the_roster(client, project, manager):
    response = login(client, manager).post(
        reverse("team", args=[project.pk]),
        {"identifier": "gus@example.org", "role": "annotator"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="card" id="roster"')
    assert "gus@example.org" in body and "<html" not in body
    assert Invitation.objects.filter(email="gus@example.org").exists()


def test_refused_invite_shows_why_with_and_without_htmx(client, project, manager):
    url, data = reverse("team", args=[project.pk]), {"identifier": "nobody", "role": "annotator"}
    plain = login(client, manager).post(url, data)
    assert plain.status_code == 400 and "No user called nobody" in plain.content.decode()
    swapped = client.post(url, data, **HTMX)
    assert swapped.status_code == 200 and "No user called nobody" in swapped.content.decode()


def test_manager_pauses_from_the_page_and_the_lease_goes_back(client, project, manager, annotator):
    make_batch(project, make_items(project, 1))
    held = queue.next_item(project=project, annotator=annotator)
    url = reverse("team_pause", args=[project.pk, annotator.pk])
    body = login(client, manager).post(url, {"paused": "1"}, **HTMX).content.decode()
    assert "Paused" in body and "Resume" in body
    assert AnnotatorState.objects.get(project=project, user=annotator).paused
    assert Lease.objects.get(pk=held.pk).state == Lease.State.RELEASED
    client.post(url, {"paused": "0"})
    assert not AnnotatorState.objects.get(project=project, user=annotator).paused


def test_manager_removes_a_member_and_withdraws_an_invitation(
    client, project, manager, reviewer, pending
):
    login(client, manager)
    client.post(reverse("team_member_remove", args=[project.pk, reviewer.pk]))
    assert not project.memberships.filter(user=reviewer).exists()
    client.post(reverse("invitation_revoke", args=[project.pk, pending.pk]))
    pending.refresh_from_db()
    assert pending.revoked_at is not None


def test_last_manager_cannot_be_removed_and_is_told_why(client, project, manager):
    response = login(client, manager).post(
        reverse("team_member_remove", args=[project.pk, manager.pk]), follow=True
    )
    assert "at least one manager" in response.content.decode()
    assert project.memberships.filter(user=manager).exists()


def write_requests(project, annotator, invitation):
    p = project.pk
    return [
        (reverse("team", args=[p]), {"identifier": "x@example.org", "role": "manager"}),
        (reverse("team_pause", args=[p, annotator.pk]), {"paused": "1"}),
        (reverse("team_member_remove", args=[p, annotator.pk]), {}),
        (reverse("invitation_revoke", args=[p, invitation.pk]), {}),
    ]


@pytest.mark.parametrize("persona", ["reviewer", "annotator", "outsider"])
def test_only_managers_change_the_team(client, project, personas, persona, annotator, pending):
    login(client, personas[persona])
    for url, data in write_requests(project, annotator, pending):
        assert client.post(url, data).status_code == 403, url
    assert project.memberships.filter(user=annotator).exists()
    assert not AnnotatorState.objects.filter(user=annotator, paused=True).exists()
    assert Invitation.objects.filter(revoked_at__isnull=True).count() == 1


# --- the invitation link ------------------------------------------------------------------------


def test_invitee_opens_the_link_accepts_and_lands_on_the_project(client, project, pending):
    hal = UserFactory(username="hal", email="newbie@example.org")
    url = reverse("invitation_accept", args=[pending.token])
    page = login(client, hal).get(url).content.decode()
    assert project.name in page and "Accept and join" in page
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == project.get_absolute_url()
    assert project.memberships.filter(user=hal, role="annotator").exists()


def test_someone_else_with_the_link_is_refused(client, project, pending):
    url = reverse("invitation_accept", args=[pending.token])
    other = UserFactory(username="ivy", email="ivy@example.org")
    response = login(client, other).post(url)
    assert response.status_code == 400 and "another e-mail address" in response.content.decode()
    assert not project.memberships.filter(user=other).exists()


def test_invitation_link_needs_login_and_a_real_token(client, pending):
    url = reverse("invitation_accept", args=[pending.token])
    response = client.get(url)
    assert response.status_code == 302 and reverse("login") in response["Location"]
    login(client, UserFactory(username="jo"))
    assert client.get(reverse("invitation_accept", args=["nope"])).status_code == 404


# --- REST ---------------------------------------------------------------------------------------


def test_api_roster_shows_details_to_managers_and_reviewers_only(api, project, personas, emails):
    url = reverse("api_team", args=[project.pk])
    for persona in ("manager", "reviewer"):
        rows = as_user(api, personas[persona]).get(url).json()
        annotator_row = next(r for r in rows if r["username"] == "annotator")
        assert annotator_row["email"] == "annotator@example.org"
        assert annotator_row["status"] == "invited" and annotator_row["annotations"] == 0
    rows = as_user(api, personas["annotator"]).get(url).json()
    assert {r["username"] for r in rows} == {"manager", "reviewer", "annotator"}
    assert all(r["email"] is None and r["annotations"] is None for r in rows)
    assert {r["username"]: r["status"] for r in rows}["annotator"] == "invited"


def test_api_outsider_gets_403_and_anonymous_401_everywhere(
    api, project, personas, annotator, pending
):
    p = project.pk
    calls = [
        ("get", reverse("api_team", args=[p])),
        ("post", reverse("api_team", args=[p])),
        ("post", reverse("api_team_pause", args=[p, annotator.pk])),
        ("post", reverse("api_team_resume", args=[p, annotator.pk])),
        ("get", reverse("api_invitations", args=[p])),
        ("delete", reverse("api_invitation", args=[p, pending.pk])),
    ]
    for method, url in calls:
        assert getattr(api, method)(url).status_code == 401, url
    as_user(api, personas["outsider"])
    for method, url in calls:
        assert (
            getattr(api, method)(url, {"identifier": "x", "role": "annotator"}).status_code == 403
        ), url
    api.force_authenticate(None)
    assert api.post(reverse("api_invitation_accept", args=[pending.token])).status_code == 401


def test_api_invite_adds_an_account_or_creates_an_invitation(api, project, manager):
    UserFactory(username="kim")
    url = reverse("api_team", args=[project.pk])
    added = as_user(api, manager).post(url, {"identifier": "kim", "role": "annotator"})
    assert added.status_code == 201
    assert added.json()["member"]["status"] == "invited" and added.json()["invitation"] is None
    invited = api.post(url, {"identifier": "lee@example.org", "role": "reviewer"})
    assert invited.status_code == 201 and invited.json()["member"] is None
    body = invited.json()["invitation"]
    token = Invitation.objects.get(email="lee@example.org").token
    assert body["role"] == "reviewer" and body["accept_url"].endswith(f"/invitations/{token}/")
    refused = api.post(url, {"identifier": "nobody", "role": "annotator"})
    assert refused.status_code == 400 and "No user called nobody" in str(refused.json())
    assert api.post(url, {"identifier": "kim", "role": "boss"}).status_code == 400


@pytest.mark.parametrize("persona", ["reviewer", "annotator"])
def test_api_members_who_are_not_managers_cannot_invite_or_pause(
    api, project, personas, persona, annotator, pending
):
    as_user(api, personas[persona])
    p = project.pk
    assert (
        api.post(
            reverse("api_team", args=[p]), {"identifier": "z@example.org", "role": "annotator"}
        ).status_code
        == 403
    )
    assert api.post(reverse("api_team_pause", args=[p, annotator.pk])).status_code == 403
    assert api.delete(reverse("api_invitation", args=[p, pending.pk])).status_code == 403
    assert not Invitation.objects.filter(email="z@example.org").exists()


def test_api_pause_and_resume(api, project, manager, annotator):
    make_batch(project, make_items(project, 1))
    held = queue.next_item(project=project, annotator=annotator)
    as_user(api, manager)
    paused = api.post(reverse("api_team_pause", args=[project.pk, annotator.pk]))
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert Lease.objects.get(pk=held.pk).state == Lease.State.RELEASED
    resumed = api.post(reverse("api_team_resume", args=[project.pk, annotator.pk]))
    assert resumed.json()["paused"] is False


def test_api_invitations_list_and_withdraw(api, project, personas, pending):
    url = reverse("api_invitations", args=[project.pk])
    for persona in ("manager", "reviewer"):
        body = as_user(api, personas[persona]).get(url).json()
        assert [i["email"] for i in body] == ["newbie@example.org"]
    assert as_user(api, personas["annotator"]).get(url).status_code == 403
    detail = reverse("api_invitation", args=[project.pk, pending.pk])
    assert as_user(api, personas["manager"]).delete(detail).status_code == 204
    assert api.get(url).json() == []
    assert api.delete(detail).status_code == 400  # already withdrawn


def test_api_accept(api, project, pending):
    url = reverse("api_invitation_accept", args=[pending.token])
    wrong = UserFactory(username="mo", email="mo@example.org")
    assert as_user(api, wrong).post(url).status_code == 400
    right = UserFactory(username="ned", email="NEWBIE@example.org")
    response = as_user(api, right).post(url)
    assert response.status_code == 201
    assert response.json()["project"] == project.pk and response.json()["role"] == "annotator"
    assert api.post(url).status_code == 400  # used
    missing = reverse("api_invitation_accept", args=["nope"])
    assert api.post(missing).status_code == 404


def test_roster_api_lists_added_annotators(api, project, manager):
    annotators_on(project, 2)
    rows = as_user(api, manager).get(reverse("api_team", args=[project.pk])).json()
    assert len(rows) == 5
