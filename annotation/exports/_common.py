"""Shared pieces of the exporters: row fields, JSON encoding, chunking, checksums."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

try:  # orjson is ~5-10x faster than json for this workload; json is the fallback.
    import orjson
except ImportError:  # pragma: no cover - exercised only where orjson is absent
    orjson = None

__all__ = [
    "CHUNK_SIZE",
    "ROW_FIELDS",
    "HashingChunks",
    "chunked",
    "dumps",
    "dumps_stdlib",
    "dumps_str",
    "project",
    "resolve_fields",
    "sha256_of_chunks",
]

# Top-level keys of an export row, in output column order.
ROW_FIELDS = (
    "id",
    "text",
    "label",
    "label_rule",
    "confidence",
    "split",
    "metadata",
    "judgements",
)
CHUNK_SIZE = 64 * 1024  # big enough to amortise per-write overhead, small enough to stream


def resolve_fields(fields: Iterable[str] | None) -> tuple[str, ...]:
    """Validate a field selection; ``None`` means every field. Order follows the caller."""
    if fields is None:
        return ROW_FIELDS
    if isinstance(fields, str):
        raise ValueError(f"fields must be a list of names, not the string {fields!r}")
    selected = tuple(fields)
    unknown = [f for f in selected if f not in ROW_FIELDS]
    if unknown:
        raise ValueError(f"unknown export field(s) {unknown}; valid fields: {list(ROW_FIELDS)}")
    if len(set(selected)) != len(selected):
        raise ValueError(f"duplicate export field(s) in {list(selected)}")
    if not selected:
        raise ValueError("at least one export field is required")
    return selected


def project(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The selected keys of ``row``; absent keys become ``None`` so every line has them all."""
    return {name: row.get(name) for name in fields}


def _default(obj: Any) -> Any:
    # Types the ORM or numpy may hand us that JSON has no native form for.
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    raise TypeError(f"cannot JSON-encode {type(obj).__name__}")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def dumps_stdlib(obj: Any) -> bytes:
    """The :mod:`json` fallback of :func:`dumps`, with the same output conventions."""
    text = json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"), default=_default)
    return text.encode("utf-8")


if orjson is not None:
    _ORJSON_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

    def dumps(obj: Any) -> bytes:
        """Compact UTF-8 JSON, non-ASCII kept as-is; NaN/inf become null."""
        return orjson.dumps(obj, default=_default, option=_ORJSON_OPTS)

else:  # pragma: no cover - exercised only where orjson is absent
    dumps = dumps_stdlib


def dumps_str(obj: Any) -> str:
    """:func:`dumps` as ``str``, for JSON-in-a-cell columns (CSV, Parquet)."""
    return dumps(obj).decode("utf-8")


def chunked(pieces: Iterable[bytes], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Concatenate small byte strings into chunks of at least ``chunk_size`` (last may be less)."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    buffer: list[bytes] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= chunk_size:
            yield b"".join(buffer)
            buffer.clear()
            size = 0
    if buffer:
        yield b"".join(buffer)


class HashingChunks:
    """Pass byte chunks through while computing their SHA-256 and total size.

    >>> stream = sha256_of_chunks(iter_jsonl(rows))
    >>> for chunk in stream: out.write(chunk)
    >>> digest, size = stream.result()
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._hash = hashlib.sha256()
        self.byte_count = 0
        self.done = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._hash.update(chunk)
            self.byte_count += len(chunk)
            yield chunk
        self.done = True

    @property
    def hexdigest(self) -> str:
        """SHA-256 of the bytes passed through so far."""
        return self._hash.hexdigest()

    def result(self) -> tuple[str, int]:
        """``(sha256 hex, byte count)``; raises if the chunks were not fully consumed."""
        if not self.done:
            raise RuntimeError("the chunk stream has not been fully consumed yet")
        return self.hexdigest, self.byte_count


def sha256_of_chunks(chunks: Iterable[bytes]) -> HashingChunks:
    """Wrap ``chunks`` so iterating them also yields their checksum; see :class:`HashingChunks`."""
    return HashingChunks(chunks)
