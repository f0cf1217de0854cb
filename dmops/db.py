"""Database helpers shared by the apps' hot paths."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorDebugWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime


class PreparedCursor(psycopg.Cursor):
    """Server-side binding, and every statement prepared on first use: PostgreSQL parses and
    plans it once per connection instead of on every call."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(
            query, params, prepare=True if prepare is None else prepare, binary=binary
        )


class PreparedDebugCursor(CursorDebugWrapper):
    """Logs the statement as written: Django reads the executed query back from the cursor,
    which a prepared statement does not keep."""

    def execute(self, sql, params=None):
        with self.debug_sql(sql, params):
            return super(CursorDebugWrapper, self).execute(sql, params)


@contextmanager
def hot_cursor() -> Iterator:
    """A cursor for the statements every annotator runs on every judgement (the queue, submit,
    token authentication).

    On PostgreSQL it prepares its statements: planning cost more of PostgreSQL's CPU than
    running these index lookups, and Django's own cursors never prepare (it binds parameters
    on the client, for the sake of transaction-mode connection poolers). Behind such a pooler
    set ``DB_PREPARED_STATEMENTS=0``. Elsewhere, or then, it is Django's usual cursor. Either
    way the cursor goes through Django's wrapper, so queries are logged and counted as usual.
    Statements must use ``%s`` / ``%(name)s`` placeholders and adapt values as Django would
    (``connection.ops.adapt_datetimefield_value`` and so on)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: every `connection.x` is a thread-local lookup
    if db.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        with db.cursor() as cursor:
            yield cursor
        return
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        raw = PreparedCursor(db.connection)
    cursor = PreparedDebugCursor(raw, db) if db.queries_logged else db.make_cursor(raw)
    with cursor:
        yield cursor


def db_datetime(value) -> datetime:
    """A timestamp read by raw SQL as a timezone-aware datetime: PostgreSQL's already are;
    SQLite's come naive or as text, stored in UTC."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, UTC)
    return value
