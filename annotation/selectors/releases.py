"""Reads of releases: who may see them, their rows as export dicts, the live project's rows.

Who may do what (pages and API alike):

=====================  =======  ========  =========  ========
                       manager  reviewer  annotator  outsider
=====================  =======  ========  =========  ========
list / read / download   yes      yes       403        403
create a release         yes      403       403        403
live-project export      yes      403       403        403
webhook settings         yes      403       403        403
=====================  =======  ========  =========  ========
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import Http404

from annotation import final_label
from annotation.models import Release, ReleaseFile, ReleaseRow
from dmops.models import Membership, Project
from dmops.selectors import project_for_member

try:
    from orjson import Fragment as _Fragment
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _Fragment = None
    _loads = json.loads

CHUNK_SIZE = 5000
#: Formats that write ``metadata`` and ``judgements`` back out as JSON text: for them the
#: database's JSON text is passed through as an orjson Fragment instead of being decoded and
#: encoded again per row (a third of the export's CPU time). Label Studio needs the dicts.
JSON_PASSTHROUGH_FORMATS = frozenset({"jsonl", "csv", "parquet"})
READERS = (Membership.Role.MANAGER, Membership.Role.REVIEWER)


def require_reader(role: str) -> None:
    if role not in READERS:
        raise PermissionDenied("Only managers and reviewers can see and download releases.")


def require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}.")


def project_for_reader(user, project_id: int) -> tuple[Project, str]:
    project, role = project_for_member(user, project_id)
    require_reader(role)
    return project, role


def release_list(project: Project) -> QuerySet[Release]:
    return (
        Release.objects.filter(project=project)
        .select_related("created_by")
        .prefetch_related("files")
        .order_by("-number")
    )


def release_for_reader(user, release_id: int) -> tuple[Release, str]:
    """The release and the user's role; 404 if absent, 403 unless manager or reviewer."""
    release = (
        Release.objects.select_related("project", "created_by")
        .prefetch_related("files")
        .filter(pk=release_id)
        .first()
    )
    if release is None:
        raise Http404("No such release.")
    _, role = project_for_member(user, release.project_id)
    require_reader(role)
    return release, role


def release_file(release: Release, fmt: str, split: str | None) -> ReleaseFile | None:
    return ReleaseFile.objects.filter(release=release, format=fmt, split=split or "").first()


def _json(value: Any) -> Any:
    # Django hands JSONField values decoded already; a raw cursor hands the text.
    if isinstance(value, str | bytes):
        return _loads(value)
    return value


#: Export field → ReleaseRow column.
_COLUMN_OF = {
    "id": "item_id",
    "text": "text",
    "label": "label",
    "label_rule": "label_rule",
    "confidence": "confidence",
    "split": "split",
    "metadata": "metadata",
    "judgements": "judgements",
}
_JSON_FIELDS = ("label", "metadata", "judgements")


def _row_maker(names: tuple[str, ...], fmt: str):
    """A function turning one fetched tuple into an export dict of ``names``.

    JSON columns arrive as text. For the formats in :data:`JSON_PASSTHROUGH_FORMATS` that text
    goes out as is (metadata and judgements; the label too for JSONL, where it is JSON
    anyway) — an orjson Fragment, or for CSV the text itself — instead of being decoded and
    encoded again per row."""
    raw = fmt in JSON_PASSTHROUGH_FORMATS and _Fragment is not None
    passthrough = {"metadata", "judgements"} | ({"label"} if fmt == "jsonl" else set())
    # A CSV cell holds the JSON text itself: keep the str, no encoder call per cell.
    kept_as_text = {"metadata", "judgements"} if fmt == "csv" else set()
    fixes = [
        (name, _Fragment if raw and name in passthrough else _json)
        for name in names
        if name in _JSON_FIELDS and name not in kept_as_text
    ]

    def make(values: tuple) -> dict[str, Any]:
        row = dict(zip(names, values, strict=True))
        for name, convert in fixes:
            value = row[name]
            if value is not None:
                row[name] = convert(value) if isinstance(value, str) else value
        return row

    return make


def _stream(sql: str, params: list, names: tuple[str, ...], fmt: str) -> Iterator[dict[str, Any]]:
    """Rows of ``sql`` (its columns are ``names``) from a server-side cursor (PostgreSQL: a
    named cursor): memory holds one fetch of CHUNK_SIZE rows, whatever the result size.

    The transaction matters on PostgreSQL: in autocommit Django declares the cursor WITH
    HOLD, and PostgreSQL then computes and stores the *whole* result before the first row
    (the implicit transaction commits at once). Inside one, rows flow as they are fetched.
    A client that goes away closes the generator, which rolls the read-only transaction back.
    """
    make = _row_maker(names, fmt)
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        if connection.vendor == "postgresql":
            with connection.cursor() as settings_cursor:
                # JIT compiling a plan costs hundreds of ms before the first row: not worth it
                # for a plain index scan.
                settings_cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        chunks = _prefetched(cursor) if connection.vendor == "postgresql" else _fetched(cursor)
        for rows in chunks:
            yield from map(make, rows)


def _fetched(cursor) -> Iterator[list]:
    while rows := cursor.fetchmany(CHUNK_SIZE):
        yield rows


def _prefetched(cursor) -> Iterator[list]:
    """Chunks of rows, the next one fetched in a thread while the caller encodes this one,
    so PostgreSQL and Python work at the same time instead of taking turns. One fetch at a
    time is in flight (psycopg serialises use of the connection anyway); a caller that stops
    early waits for that one fetch before the cursor closes."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-fetch") as pool:
        pending = pool.submit(cursor.fetchmany, CHUNK_SIZE)
        while rows := pending.result():
            pending = pool.submit(cursor.fetchmany, CHUNK_SIZE)
            yield rows


def release_row_dicts(
    release: Release,
    split: str | None = None,
    *,
    fmt: str = "",
    fields: Sequence[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The release's rows (of one split, or all) as export dicts for format ``fmt``, in item
    order, with the keys ``fields`` (default: every field the release has).

    Only the columns of ``fields`` are read. This matters on PostgreSQL, where turning the
    jsonb columns (metadata, judgements) into text costs the server about four times as much
    as reading the rest of the row: ``fields=id,text,label`` streams several times faster.
    The SQL is the queryset's (``.values_list(...)``), run on a server-side cursor with raw
    JSON decoding: the same as ``.iterator(chunk_size=…)`` at about twice the speed, since
    the JSON columns skip Django's per-value ``json.loads``.
    """
    names = tuple(fields) if fields is not None else _release_fields(release)
    if "judgements" in names and not release.include_judgements:
        raise ValueError("this release was made without the judgements")
    rows = ReleaseRow.objects.filter(release=release)
    # Item order (as inserted) through releaserow_unique_item / releaserow_split, which
    # start at the release's first row; id order would let PostgreSQL walk the primary key
    # past every earlier release's rows before the first byte.
    if split:
        rows = rows.filter(split=split)
    qs = rows.order_by("item_id").values_list(*(_COLUMN_OF[name] for name in names))
    sql, params = _raw_json(qs)
    return _stream(sql, list(params), names, fmt)


def _release_fields(release: Release) -> tuple[str, ...]:
    return tuple(f for f in _COLUMN_OF if release.include_judgements or f != "judgements")


def _raw_json(qs: QuerySet) -> tuple[str, tuple]:
    """The SQL of ``qs``; JSON columns come back as text (Django's PostgreSQL backend loads
    jsonb as text, SQLite stores text), which :func:`_json` decodes."""
    return qs.query.sql_with_params()


def release_rows_page(release: Release, *, after: int, limit: int) -> list[ReleaseRow]:
    """Keyset page: rows with id > ``after``, by id (index release, split, id / pk)."""
    return list(ReleaseRow.objects.filter(release=release, id__gt=after).order_by("id")[:limit])


def live_row_dicts(project: Project, *, fmt: str = "") -> Iterator[dict[str, Any]]:
    """Every active item's current final label (the rule of annotation/final_label.py),
    streamed; ``split`` is null because the live project is not split."""
    sql, params = final_label.final_label_rows_sql(project_id=project.pk, vendor=connection.vendor)
    sql = (
        "SELECT d.item_id, d.text, d.metadata, d.label, d.label_rule, d.confidence, NULL"
        f" FROM ({sql}) d ORDER BY d.item_id"
    )
    names = ("id", "text", "metadata", "label", "label_rule", "confidence", "split")
    return _stream(sql, params, names, fmt)
