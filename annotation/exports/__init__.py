"""DMOps step 12: dataset export formats (pure Python, no Django).

Every exporter consumes an iterator of row dicts (see :data:`ROW_FIELDS`) and never holds
the whole dataset: the streamable ones are generators of byte chunks suitable for a
``StreamingHttpResponse`` or a file; Parquet is written to a file in record batches.

>>> exporter = get_exporter("jsonl")
>>> result = exporter.write_file(rows, "release/train.jsonl", fields=["id", "text", "label"])
>>> result.sha256, result.byte_count, result.row_count
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from typing import Any

from . import csv as csv_format
from . import jsonl, labelstudio, parquet
from ._common import CHUNK_SIZE, ROW_FIELDS, HashingChunks, resolve_fields, sha256_of_chunks

__all__ = [
    "EXPORTERS",
    "ROW_FIELDS",
    "ExportResult",
    "Exporter",
    "HashingChunks",
    "get_exporter",
    "resolve_fields",
    "sha256_of_chunks",
]

Rows = Iterable[Mapping[str, Any]]


@dataclass(frozen=True)
class ExportResult:
    """What a release build records next to the file."""

    sha256: str
    byte_count: int
    row_count: int


class _Counter:
    # Counts rows as the exporter pulls them, so counting costs no second pass.
    def __init__(self, rows: Rows) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for row in self.rows:
            self.count += 1
            yield row


def _iter_parquet(
    rows: Rows, fields: Iterable[str] | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    # Parquet's footer is written last, so the bytes only exist once the file is complete.
    resolve_fields(fields)
    return _parquet_chunks(rows, fields, chunk_size)


def _parquet_chunks(rows: Rows, fields: Iterable[str] | None, chunk_size: int) -> Iterator[bytes]:
    fd, tmp = tempfile.mkstemp(suffix=".parquet")
    os.close(fd)
    try:
        parquet.write_parquet(rows, tmp, fields)
        with open(tmp, "rb") as fh:
            while chunk := fh.read(chunk_size):
                yield chunk
    finally:
        os.unlink(tmp)


@dataclass(frozen=True)
class Exporter:
    """One export format."""

    name: str
    content_type: str
    extension: str
    streamable: bool
    iter_bytes: Callable[..., Iterator[bytes]]
    """``iter_bytes(rows, fields=None, chunk_size=65536)``; for a non-streamable format
    it builds a temporary file first, then yields it."""

    def filename(self, stem: str) -> str:
        """``stem`` plus this format's extension."""
        return f"{stem}.{self.extension}"

    def write_file(
        self, rows: Rows, path: str | PathLike[str], fields: Iterable[str] | None = None
    ) -> ExportResult:
        """Write ``rows`` to ``path`` atomically and return checksum, size and row count.

        Writes to ``path + ".part"`` and renames, so a failed export never leaves a
        truncated file under the final name.
        """
        selected = resolve_fields(fields)
        counter = _Counter(rows)
        part = f"{os.fspath(path)}.part"
        try:
            if self.streamable:
                stream = sha256_of_chunks(self.iter_bytes(counter, selected))
                with open(part, "wb") as fh:
                    for chunk in stream:
                        fh.write(chunk)
            else:
                parquet.write_parquet(counter, part, selected)
                with open(part, "rb") as fh:
                    stream = sha256_of_chunks(iter(lambda: fh.read(1 << 20), b""))
                    for _ in stream:
                        pass
            os.replace(part, path)
        finally:
            if os.path.exists(part):
                os.unlink(part)
        digest, size = stream.result()
        return ExportResult(digest, size, counter.count)


EXPORTERS: dict[str, Exporter] = {
    "jsonl": Exporter("jsonl", jsonl.CONTENT_TYPE, jsonl.EXTENSION, True, jsonl.iter_jsonl),
    "csv": Exporter(
        "csv", csv_format.CONTENT_TYPE, csv_format.EXTENSION, True, csv_format.iter_csv
    ),
    "parquet": Exporter("parquet", parquet.CONTENT_TYPE, parquet.EXTENSION, False, _iter_parquet),
    "labelstudio": Exporter(
        "labelstudio",
        labelstudio.CONTENT_TYPE,
        labelstudio.EXTENSION,
        True,
        labelstudio.iter_labelstudio,
    ),
}


def get_exporter(name: str) -> Exporter:
    """The exporter called ``name``; ValueError lists the valid names otherwise."""
    try:
        return EXPORTERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown export format {name!r}; valid formats: {sorted(EXPORTERS)}"
        ) from None
