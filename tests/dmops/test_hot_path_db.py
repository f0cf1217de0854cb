"""The database plumbing of the labelling hot path: token authentication in one statement, and
the cursor that prepares statements on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dmops.authentication import TokenAuthentication
from dmops.db import hot_cursor

pytestmark = pytest.mark.django_db


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_token_authenticates_its_user_in_one_query(annotator):
    client = _token_client(annotator)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("api_projects"))
    assert response.status_code == 200
    token_queries = [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]
    assert len(token_queries) == 1


def test_the_authenticated_user_loads_deferred_fields_on_demand(annotator):
    annotator.set_password("s3cret-enough")
    annotator.save()
    token = Token.objects.create(user=annotator)
    user, auth = TokenAuthentication().authenticate_credentials(token.key)
    assert (user.pk, user.username, auth.key) == (annotator.pk, annotator.username, token.key)
    # Not read with the token, so read when asked for: nothing comes back empty.
    assert user.check_password("s3cret-enough")
    assert user.date_joined == annotator.date_joined


def test_unknown_tokens_and_inactive_users_get_401(annotator):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get(reverse("api_projects"))
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."

    client = _token_client(annotator)
    annotator.is_active = False
    annotator.save()
    response = client.get(reverse("api_projects"))
    assert response.status_code == 401
    assert response.json()["detail"] == "User inactive or deleted."


def test_hot_cursor_statements_are_logged_with_their_sql():
    with CaptureQueriesContext(connection) as queries, hot_cursor() as cursor:
        cursor.execute("SELECT %s + 1", [41])
        assert cursor.fetchone()[0] == 42
    # As written where it was prepared (PostgreSQL), else with its parameters, as usual.
    assert queries.captured_queries[-1]["sql"] in ("SELECT %s + 1", "SELECT 41 + 1")


def _prepared(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = %s",
            [sql.replace("%s", "$1")],
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_on_postgresql_hot_statements_are_prepared_once_per_connection(settings):
    sql = "SELECT %s::int * 2 AS hot_path_test"
    for value in (1, 2, 3):
        with hot_cursor() as cursor:
            cursor.execute(sql, [value])
            assert cursor.fetchone()[0] == value * 2
    assert _prepared(sql) == 1
    # Django's own cursors still bind on the client and prepare nothing.
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::int * 3 AS not_prepared_test", [1])
    assert _prepared("SELECT %s::int * 3 AS not_prepared_test") == 0

    settings.DB_PREPARED_STATEMENTS = False  # behind a transaction-mode pooler
    sql = "SELECT %s::int * 4 AS unprepared_hot_test"
    with hot_cursor() as cursor:
        cursor.execute(sql, [1])
    assert _prepared(sql) == 0
