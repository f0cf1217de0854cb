from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from dmops.models import StepEvent, StepState
from tests.dmops.factories import COMPLETE_GOAL

pytestmark = pytest.mark.django_db


def as_user(api, user):
    api.force_authenticate(user)
    return api


def endpoints(project):
    base = f"/api/projects/{project.pk}"
    return [
        ("get", f"{base}/", None),
        ("patch", f"{base}/", {"description": "x"}),
        ("get", f"{base}/members/", None),
        ("post", f"{base}/members/", {"username": "outsider", "role": "annotator"}),
        ("delete", f"{base}/members/1/", None),
        ("get", f"{base}/steps/", None),
        ("get", f"{base}/steps/1/", None),
        ("patch", f"{base}/steps/1/", {"due_date": "2027-01-01"}),
        ("post", f"{base}/steps/1/transitions/", {"action": "start"}),
    ]


def test_outsider_gets_403_on_every_project_endpoint_and_no_data(api, project, outsider):
    client = as_user(api, outsider)
    for method, url, data in endpoints(project):
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 403, (method, url)
        assert project.name not in response.content.decode()
    assert client.get("/api/projects/").json()["results"] == []


def test_anonymous_gets_401_or_403(api, project):
    for method, url, data in endpoints(project):
        assert getattr(api, method)(url, data, format="json").status_code in (401, 403)


def test_missing_project_is_404(api, manager):
    assert as_user(api, manager).get("/api/projects/999999/").status_code == 404


@pytest.mark.parametrize("persona", ["reviewer", "annotator"])
def test_non_managers_read_but_cannot_write(api, project, personas, persona):
    client = as_user(api, personas[persona])
    for method, url, data in endpoints(project):
        response = getattr(client, method)(url, data, format="json")
        expected = 200 if method == "get" else 403
        assert response.status_code == expected, (method, url, response.content)
    assert StepState.objects.get(project=project, key=1).status == "not_started"


def test_create_project_with_goal_and_list_it(api, manager):
    client = as_user(api, manager)
    response = client.post("/api/projects/", {"name": "Citations", **COMPLETE_GOAL}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "manager" and body["goal_target_size"] == 20000
    assert [p["name"] for p in client.get("/api/projects/").json()["results"]] == ["Citations"]


def test_bad_input_gets_400_with_field_errors(api, project, manager):
    client = as_user(api, manager)
    assert "name" in client.post("/api/projects/", {}, format="json").json()
    response = client.patch(
        f"/api/projects/{project.pk}/", {"goal_target_size": "many"}, format="json"
    )
    assert response.status_code == 400 and "goal_target_size" in response.json()
    response = client.post(
        f"/api/projects/{project.pk}/steps/1/transitions/", {"action": "launch"}, format="json"
    )
    assert response.status_code == 400 and "action" in response.json()
    response = client.post(
        f"/api/projects/{project.pk}/members/",
        {"username": "ghost", "role": "annotator"},
        format="json",
    )
    assert response.status_code == 400 and "No user is called" in str(response.json())


def test_step_out_of_range_is_404(api, project, manager):
    client = as_user(api, manager)
    response = client.post(
        f"/api/projects/{project.pk}/steps/13/transitions/", {"action": "start"}, format="json"
    )
    assert response.status_code == 404


def test_transitions_follow_the_same_rules_as_the_ui(api, project, manager):
    client = as_user(api, manager)
    url = f"/api/projects/{project.pk}/steps/1/transitions/"
    assert client.post(url, {"action": "start"}, format="json").status_code == 200
    refused = client.post(url, {"action": "sign_off"}, format="json")
    assert refused.status_code == 400
    assert "The goal has a success metric" in str(refused.json())
    client.patch(f"/api/projects/{project.pk}/", COMPLETE_GOAL, format="json")
    done = client.post(url, {"action": "sign_off", "note": "ok"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "done"
    skip = client.post(
        f"/api/projects/{project.pk}/steps/2/transitions/", {"action": "skip"}, format="json"
    )
    assert skip.status_code == 400 and "Say why" in str(skip.json())
    assert StepEvent.objects.filter(project=project).count() == 2


def test_step_board_lists_twelve_steps_with_checks(api, project, manager):
    board = as_user(api, manager).get(f"/api/projects/{project.pk}/steps/").json()
    assert [s["key"] for s in board] == list(range(1, 13))
    assert [c["key"] for c in board[0]["checks"]] == ["goal_statement", "success_metric"]
    assert board[0]["checks"][0]["passed"] is False


def test_members_add_and_remove_over_rest(api, project, manager, outsider):
    client = as_user(api, manager)
    url = f"/api/projects/{project.pk}/members/"
    added = client.post(url, {"username": "outsider", "role": "reviewer"}, format="json")
    assert added.status_code == 201 and added.json()["role"] == "reviewer"
    assert client.delete(f"{url}{outsider.pk}/").status_code == 204
    assert "outsider" not in [m["username"] for m in client.get(url).json()]


def test_assign_step_owner_by_username(api, project, manager, reviewer):
    response = as_user(api, manager).patch(
        f"/api/projects/{project.pk}/steps/2/",
        {"owner": "reviewer", "due_date": "2027-03-01"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["owner"], response.json()["due_date"]) == ("reviewer", "2027-03-01")


def test_token_auth(api, project, manager):
    token = Token.objects.create(user=manager)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get(f"/api/projects/{project.pk}/steps/").status_code == 200
    obtained = api.post(
        "/api/auth/token/", {"username": "manager", "password": "correct-horse-battery"}
    )
    assert obtained.json()["token"] == token.key


def test_openapi_schema_generates_without_warnings(tmp_path, capsys):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--validate", "--fail-on-warn")
    schema = out.read_text()
    assert "/api/projects/{project_id}/steps/{key}/transitions/" in schema


def test_schema_and_docs_pages_are_served(client, manager):
    client.force_login(manager)
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
