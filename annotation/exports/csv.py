"""CSV export (RFC 4180): header, CRLF line ends, minimal quoting, streamed in chunks.

Cells: ``None`` -> empty; ``metadata``, ``judgements`` and list labels -> compact JSON
(so a multi-label cell reads ``["a","b"]`` while a single label stays plain text); numbers
as Python writes them. Newlines, quotes and commas inside text are quoted per RFC 4180 and
survive a round trip through :mod:`csv`. Caveats: an empty string and ``None`` both become
an empty cell, and a single label that itself looks like a JSON list is indistinguishable
from a multi-label cell; JSONL or Parquet keep types exactly.

The quoting is done here rather than with :func:`csv.writer`: the output is byte-identical
to ``csv.writer(lineterminator="\\r\\n")`` (a test checks this) but about three times
faster, because the stdlib writer inspects every character in Python-level state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._common import CHUNK_SIZE, chunked, dumps_str, resolve_fields

__all__ = ["CONTENT_TYPE", "EXTENSION", "encode_row", "iter_csv"]

CONTENT_TYPE = "text/csv; charset=utf-8"
EXTENSION = "csv"
_BOM = "\ufeff".encode()


def _quote(text: str) -> str:
    # RFC 4180 §2.6/2.7: quote a field holding a comma, quote, CR or LF; double the quotes.
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int | float):  # includes bool, written True/False like csv does
        return str(value)
    return _quote(dumps_str(value))


def encode_row(cells: Iterable[Any]) -> str:
    """One CSV record (with its CRLF) for ``cells``."""
    line = ",".join(map(_cell, cells))
    # A lone empty cell would be a blank line, which readers skip: quote it like csv does.
    return (line or '""') + "\r\n"


def iter_csv(
    rows: Iterable[Mapping[str, Any]],
    fields: Iterable[str] | None = None,
    chunk_size: int = CHUNK_SIZE,
    bom: bool = False,
) -> Iterator[bytes]:
    """Yield CSV bytes for ``rows``. ``bom=True`` prepends a UTF-8 BOM for Excel users."""
    selected = resolve_fields(fields)  # validated eagerly, before any byte is produced
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return chunked(_lines(rows, selected, bom), chunk_size)


def _lines(
    rows: Iterable[Mapping[str, Any]], selected: tuple[str, ...], bom: bool
) -> Iterator[bytes]:
    yield (_BOM if bom else b"") + encode_row(selected).encode("utf-8")
    for row in rows:
        yield encode_row([row.get(name) for name in selected]).encode("utf-8")
