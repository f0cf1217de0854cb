"""CSV and TSV with a header row.

The first record is the header; ``options.text_field`` names the text column (required),
``options.id_field`` an optional id column, ``options.metadata_fields`` the columns kept as
metadata (default: all other named columns). Quoted fields may contain delimiters, doubled
quotes and newlines; a row's ``line`` is the physical line where its record starts.

TSV uses the same reader with a tab delimiter. Quoting is on by default (spreadsheets and
pandas quote fields that contain quotes or tabs); for an unquoted IANA-style TSV whose text
contains bare ``"`` characters pass ``ParseOptions(quoting=False)``. Broken quoting is fatal,
never silently repaired, because it shifts every later column.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import IO

from annotation.sources.base import (
    REJECT_FIELD_COUNT,
    REJECT_UNSTORABLE,
    ImportFormatError,
    ParsedRow,
    ParseOptions,
    Rejection,
    iter_lines,
    text_rejection,
)

#: The csv module's default field limit (128 KiB) is below a long document; the caller's
#: file-size limit is the real bound. The limit is process-wide, so it is only ever raised.
_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


def parse_csv(stream: IO[bytes], options: ParseOptions) -> Iterator[ParsedRow | Rejection]:
    """Comma-separated (or ``options.delimiter``) values with a header row."""
    return _parse_delimited(stream, options, options.delimiter or ",")


def parse_tsv(stream: IO[bytes], options: ParseOptions) -> Iterator[ParsedRow | Rejection]:
    """Tab-separated values with a header row."""
    return _parse_delimited(stream, options, options.delimiter or "\t")


class _Lines:
    """Feeds decoded lines to csv.reader and remembers whether any held a NUL."""

    __slots__ = ("lines", "saw_nul")

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines = iter_lines(stream)
        self.saw_nul = False

    def __iter__(self) -> Iterator[str]:
        for _, line in self.lines:
            if "\x00" in line:
                self.saw_nul = True
            yield line


def _parse_delimited(
    stream: IO[bytes], options: ParseOptions, delimiter: str
) -> Iterator[ParsedRow | Rejection]:
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)
    source = _Lines(stream)
    reader = csv.reader(
        source,
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if options.quoting else csv.QUOTE_NONE,
        strict=True,  # an unterminated quote is an error, not a field that eats the file
    )
    records = _records(reader)
    try:
        start, header = next(records)
    except StopIteration:
        raise ImportFormatError(None, "the file is empty") from None
    columns = _Columns(header, options, start)

    for start, fields in records:
        if len(fields) != columns.width:
            yield Rejection(
                start,
                REJECT_FIELD_COUNT,
                f"expected {columns.width} fields as in the header, got {len(fields)}",
            )
            continue
        external_id = fields[columns.id_index] if columns.id_index is not None else ""
        text = fields[columns.text_index]
        rejected = text_rejection(start, text, options.text_field, external_id)
        if rejected:
            yield rejected
            continue
        if source.saw_nul:
            source.saw_nul = False
            if any("\x00" in value for value in fields):
                yield Rejection(
                    start,
                    REJECT_UNSTORABLE,
                    "contains a NUL character (U+0000), which PostgreSQL cannot store",
                    external_id,
                )
                continue
        metadata = {name: fields[index] for name, index in columns.metadata}
        yield ParsedRow(start, text, external_id, metadata)


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """``(start_line, fields)`` per non-blank record; csv errors become ImportFormatError."""
    consumed = 0  # physical lines the reader has taken so far
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num  # type: ignore[attr-defined]
            hint = ""
            if "expected after" in str(exc) or "unexpected end of data" in str(exc):
                hint = (
                    " (a quote character opens a quoted field that is never closed properly;"
                    " for unquoted TSV use quoting=False)"
                )
            raise ImportFormatError(line, f"malformed CSV: {exc}{hint}") from None
        start = consumed + 1
        consumed = reader.line_num  # type: ignore[attr-defined]
        if fields:  # csv yields [] for a blank line
            yield start, fields


class _Columns:
    """Where the text, id and metadata live, resolved once from the header."""

    def __init__(self, header: list[str], options: ParseOptions, line: int) -> None:
        names = [name.strip() for name in header]
        self.width = len(names)
        seen: set[str] = set()
        for name in names:
            if name and name in seen:
                raise ImportFormatError(line, f"column {name!r} appears twice in the header")
            seen.add(name)
        available = ", ".join(repr(n) for n in names if n) or "none"
        self.text_index = self._find(names, options.text_field, "text", available, line)
        self.id_index = (
            self._find(names, options.id_field, "id", available, line) if options.id_field else None
        )
        if options.metadata_fields is None:
            used = {self.text_index, self.id_index}
            # Unnamed columns (a trailing delimiter in the header) carry nothing usable.
            self.metadata = [(n, i) for i, n in enumerate(names) if n and i not in used]
        else:
            self.metadata = [
                (n, self._find(names, n, "metadata", available, line))
                for n in options.metadata_fields
            ]

    @staticmethod
    def _find(names: list[str], wanted: str, role: str, available: str, line: int) -> int:
        try:
            return names.index(wanted)
        except ValueError:
            raise ImportFormatError(
                line, f"{role} column {wanted!r} not found in the header (columns: {available})"
            ) from None
