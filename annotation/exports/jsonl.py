"""JSON Lines export: one UTF-8 JSON object per line, streamed in ~64 KB chunks.

Loads directly with ``datasets.load_dataset("json", data_files=...)``, ``pandas.read_json
(lines=True)`` and ``jq``. Non-ASCII text is written as-is (no ``\\u`` escapes).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._common import CHUNK_SIZE, chunked, dumps, project, resolve_fields

__all__ = ["CONTENT_TYPE", "EXTENSION", "iter_jsonl"]

CONTENT_TYPE = "application/x-ndjson"
EXTENSION = "jsonl"


def iter_jsonl(
    rows: Iterable[Mapping[str, Any]],
    fields: Iterable[str] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Yield the JSONL bytes of ``rows`` (lazily; rows are pulled as chunks are consumed)."""
    selected = resolve_fields(fields)  # validated before the first row is pulled
    return chunked((dumps(project(row, selected)) + b"\n" for row in rows), chunk_size)
