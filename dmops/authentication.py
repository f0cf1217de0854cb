"""DRF token authentication in one prepared statement.

Every API call of an annotator or a pipeline authenticates, and DRF's TokenAuthentication
builds its ``select_related`` query through the ORM each time, which cost more CPU than the
queue's own statements. Same tokens (``rest_framework.authtoken``), same answers: 401 for an
unknown token or an inactive user, with DRF's messages.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from dmops.db import hot_cursor

# The user's fields an API call may need; the rest (password hash, timestamps) load on first
# access, as for any deferred field.
_USER_FIELDS = {"username", "email", "first_name", "last_name", "is_active", "is_staff",
                "is_superuser"}  # fmt: skip


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


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str):
        sql, user_fields = _token_sql()
        with hot_cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = get_user_model().from_db("default", user_fields, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token(key=key, user=user)
        token._state.adding, token._state.db = False, "default"
        return user, token
