"""DRF token authentication in one prepared statement, remembered for a few seconds.

Every API call of an annotator or a pipeline authenticates, and DRF's TokenAuthentication
builds its ``select_related`` query through the ORM each time, which cost more CPU than the
queue's own statements. Same tokens (``rest_framework.authtoken``), same answers: 401 for an
unknown token or an inactive user, with DRF's messages.

An annotator's client authenticates twice per judgement, so each process remembers a token's
user for ``DMOPS_TOKEN_CACHE_SECONDS`` (default 5; 0 turns it off) instead of asking the
database every time: that read was two of a judgement's five round trips (bench/README.md,
"Queue", session 7). Only who the token belongs to is remembered; what they may see
(membership, role, pause) is read by every request. Deleting a token or saving a user through
Django forgets it at once in the process that did it; in the other processes, and after a raw
SQL change, a deleted token or a deactivated user still works for at most that many seconds.
"""

from __future__ import annotations

import time
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _
from rest_framework import HTTP_HEADER_ENCODING, authentication, exceptions
from rest_framework.authtoken.models import Token

from dmops.db import hot_cursor

# The user's fields an API call may need; the rest (password hash, timestamps) load on first
# access, as for any deferred field.
_USER_FIELDS = {"username", "email", "first_name", "last_name", "is_active", "is_staff",
                "is_superuser"}  # fmt: skip

# Bounds the memory of a process that sees many tokens: when full, it starts over.
MAX_REMEMBERED_TOKENS = 10_000

# token key -> (time.monotonic() until which the row may be used, the user's row)
_remembered: dict[str, tuple[float, tuple]] = {}


@cache  # the user model is known once the apps are loaded
def _token_sql() -> tuple[str, list[str]]:
    user_model = get_user_model()
    # In the model's field order, as Model.from_db expects for a partial row.
    fields = [
        f for f in user_model._meta.concrete_fields if f.primary_key or f.name in _USER_FIELDS
    ]
    sql = (
        f"SELECT {', '.join('u.' + f.column for f in fields)} "  # noqa: S608
        f"FROM {Token._meta.db_table} t JOIN {user_model._meta.db_table} u "
        f"ON u.{user_model._meta.pk.column} = t.user_id WHERE t.key = %s"
    )
    return sql, [f.attname for f in fields]


def _user_row(key: str) -> tuple | None:
    now = time.monotonic()
    remembered = _remembered.get(key)
    if remembered is not None and remembered[0] > now:
        return remembered[1]
    sql, _fields = _token_sql()
    with hot_cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    seconds = settings.DMOPS_TOKEN_CACHE_SECONDS
    if row is None or seconds <= 0:
        _remembered.pop(key, None)
        return row
    if len(_remembered) >= MAX_REMEMBERED_TOKENS:
        _remembered.clear()
    _remembered[key] = (now + seconds, row)
    return row


def forget_tokens() -> None:
    """Forget every remembered token of this process (tests, and after changing users)."""
    _remembered.clear()


def _forget_token(sender, instance: Token, **kwargs) -> None:
    _remembered.pop(instance.key, None)


def _forget_user(sender, instance, **kwargs) -> None:
    # Rare next to API calls (a login saves last_login): start over rather than search.
    _remembered.clear()


post_delete.connect(_forget_token, sender=Token, dispatch_uid="dmops_forget_token")
post_save.connect(_forget_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="dmops_forget_user")
post_delete.connect(
    _forget_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="dmops_forget_deleted_user"
)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate(self, request):
        # As DRF's, with its messages, but read from META: DRF's get_authorization_header asks
        # request.headers, which first copies every header into a new mapping by scanning all
        # of META, and under granian META also holds the server's whole environment.
        header = request._request.META.get("HTTP_AUTHORIZATION", b"")
        if isinstance(header, str):
            header = header.encode(HTTP_HEADER_ENCODING)
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) == 1:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header. No credentials provided.")
            )
        if len(parts) > 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header. Token string should not contain spaces.")
            )
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header. Token string should not contain invalid characters.")
            ) from None
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key: str):
        row = _user_row(key)
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        _sql, user_fields = _token_sql()
        user = get_user_model().from_db("default", user_fields, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token(key=key, user=user)
        token._state.adding, token._state.db = False, "default"
        return user, token
