"""Token authentication remembers a token's user for DMOPS_TOKEN_CACHE_SECONDS in each
process: fewer round trips on the hot path, and revocation that is immediate where Django
made the change and bounded by that time elsewhere. What a user may see is never remembered."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dmops import authentication
from dmops.models import Membership

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _token_reads(queries) -> int:
    return sum("authtoken_token" in q["sql"] for q in queries.captured_queries)


def _refusal(client: APIClient) -> str:
    """The 401's message for the client's next call."""
    response = client.get(reverse("api_projects"))
    assert response.status_code == 401
    return response.json()["detail"]


def _delete_behind_djangos_back(token: Token) -> None:
    # As another server process, or a script in SQL, would: no signal reaches this process.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM authtoken_token WHERE key = %s", [token.key])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(authentication.time, "monotonic", clock)
    return clock


def test_a_token_is_read_once_while_it_is_remembered(annotator, project, settings):
    settings.DMOPS_TOKEN_CACHE_SECONDS = 5
    client = _client(Token.objects.create(user=annotator).key)
    with CaptureQueriesContext(connection) as queries:
        responses = [client.get(reverse("api_projects")) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [p["id"] for p in responses[-1].json()["results"]] == [project.pk]
    assert _token_reads(queries) == 1


def test_a_token_deleted_elsewhere_stops_working_when_the_time_is_up(annotator, clock, settings):
    settings.DMOPS_TOKEN_CACHE_SECONDS = 5
    token = Token.objects.create(user=annotator)
    client = _client(token.key)
    assert client.get(reverse("api_projects")).status_code == 200
    _delete_behind_djangos_back(token)
    clock.now += 4.9
    assert client.get(reverse("api_projects")).status_code == 200  # the documented delay
    clock.now += 0.2
    assert _refusal(client) == "Invalid token."


def test_a_user_deactivated_elsewhere_is_refused_when_the_time_is_up(annotator, clock, settings):
    settings.DMOPS_TOKEN_CACHE_SECONDS = 5
    client = _client(Token.objects.create(user=annotator).key)
    assert client.get(reverse("api_projects")).status_code == 200
    type(annotator).objects.filter(pk=annotator.pk).update(is_active=False)  # no signal
    clock.now += 5.1
    assert _refusal(client) == "User inactive or deleted."


def test_deleting_a_token_through_django_ends_it_at_once(annotator, settings):
    settings.DMOPS_TOKEN_CACHE_SECONDS = 3600
    token = Token.objects.create(user=annotator)
    client = _client(token.key)
    assert client.get(reverse("api_projects")).status_code == 200
    token.delete()
    assert _refusal(client) == "Invalid token."


def test_deactivating_a_user_through_django_ends_their_token_at_once(annotator, settings):
    settings.DMOPS_TOKEN_CACHE_SECONDS = 3600
    client = _client(Token.objects.create(user=annotator).key)
    assert client.get(reverse("api_projects")).status_code == 200
    annotator.is_active = False
    annotator.save(update_fields=["is_active"])
    assert _refusal(client) == "User inactive or deleted."


def test_membership_is_read_on_every_request_whatever_is_remembered(annotator, project, settings):
    settings.DMOPS_TOKEN_CACHE_SECONDS = 3600
    client = _client(Token.objects.create(user=annotator).key)
    next_item = reverse("api_next_item", args=[project.pk])
    assert client.get(next_item).status_code == 204  # a member; nothing to label yet
    Membership.objects.filter(project=project, user=annotator).delete()
    assert client.get(next_item).status_code == 403


def test_an_unknown_token_is_not_remembered(annotator, settings):
    settings.DMOPS_TOKEN_CACHE_SECONDS = 3600
    key = "f" * 40
    client = _client(key)
    assert _refusal(client) == "Invalid token."
    Token.objects.create(user=annotator, key=key)
    assert client.get(reverse("api_projects")).status_code == 200


def test_zero_seconds_reads_the_token_on_every_request(annotator, settings):
    settings.DMOPS_TOKEN_CACHE_SECONDS = 0
    token = Token.objects.create(user=annotator)
    client = _client(token.key)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("api_projects")).status_code == 200
        assert client.get(reverse("api_projects")).status_code == 200
    assert _token_reads(queries) == 2
    _delete_behind_djangos_back(token)
    assert _refusal(client) == "Invalid token."


def test_a_process_remembers_a_bounded_number_of_tokens(manager, reviewer, annotator, monkeypatch):
    monkeypatch.setattr(authentication, "MAX_REMEMBERED_TOKENS", 2)
    keys = [Token.objects.create(user=user).key for user in (manager, reviewer, annotator)]
    for key in keys:
        assert _client(key).get(reverse("api_projects")).status_code == 200
        assert len(authentication._remembered) <= 2
    assert keys[-1] in authentication._remembered


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token a b",
        "token {key}",
        "Bearer {key}",
        "",
        "Token \xff",
        "Token 0000000000000000000000000000000000000000",
    ],
)
def test_the_authorization_header_is_read_as_drf_reads_it(annotator, header, settings):
    # dmops reads the header from META instead of request.headers; every answer (which user,
    # or which 401 message, or anonymous) must stay DRF's own.
    from rest_framework.authentication import TokenAuthentication as DrfTokenAuthentication
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    settings.DMOPS_TOKEN_CACHE_SECONDS = 0
    key = Token.objects.create(user=annotator).key
    value = header.format(key=key)

    def outcome(auth_class) -> object:
        request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=value))
        try:
            found = auth_class().authenticate(request)
        except AuthenticationFailed as exc:
            return str(exc.detail)
        return None if found is None else found[0].pk

    assert outcome(authentication.TokenAuthentication) == outcome(DrfTokenAuthentication)
    if header == "token {key}":
        assert outcome(authentication.TokenAuthentication) == annotator.pk
