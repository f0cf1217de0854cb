"""JSON Lines: one JSON object per line (``.jsonl``, ``.ndjson``).

Each line is decoded on its own, so memory stays at one line and a syntax error names its
line. Blank lines are skipped; a line that is not valid JSON is fatal (the rest of the file was
probably produced by the same broken writer), a line that is valid JSON but not a usable object
is a per-row rejection. ``position`` is the physical line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from json.scanner import make_scanner
from typing import IO

import orjson

from annotation.sources.base import (
    ImportFormatError,
    ParsedRow,
    ParseOptions,
    Rejection,
    json_constant_as_null,
    row_from_mapping,
    utf8_error,
)

_BOM = b"\xef\xbb\xbf"
#: The C scanner behind json.loads, minus the two regex whitespace skips per call; any failure
#: falls back to json.loads, which produces the standard error message.
_scan_once = make_scanner(json.JSONDecoder(parse_constant=json_constant_as_null))


def _decode_line(line: str, number: int) -> object:
    try:
        value, end = _scan_once(line, 0)
        if end == len(line) or line[end:].isspace():
            return value
    except (StopIteration, json.JSONDecodeError):
        pass
    try:
        return json.loads(line, parse_constant=json_constant_as_null)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(number, f"invalid JSON: {exc.msg} (column {exc.colno})") from None


def parse_jsonl(stream: IO[bytes], options: ParseOptions) -> Iterator[ParsedRow | Rejection]:
    """Parse a JSON Lines stream; see the module docstring for what is fatal."""
    readline = stream.readline
    raw = readline()
    if isinstance(raw, str):
        raise TypeError("parsers need a binary stream: open the file with 'rb'")
    if not raw:
        raise ImportFormatError(None, "the file is empty")
    offset = 0
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
        offset = len(_BOM)
    number = 1
    loads, OrjsonError = orjson.loads, orjson.JSONDecodeError  # noqa: N806
    while raw:
        # orjson reads the bytes directly and is strict about UTF-8. Whatever it refuses (a
        # blank line, bad JSON, bad UTF-8, NaN, integers over 64 bits) takes the slow path,
        # which accepts what json accepts (NaN as null) and words the error with its line and
        # column.
        try:
            record = loads(raw)
        except OrjsonError:
            record = _slow_decode(raw, number, offset)
        if record is not _BLANK:
            # Escapes are the only way a NUL or a lone surrogate gets past strict decoding,
            # so the deep check runs only for lines that contain one.
            yield row_from_mapping(record, number, options, check_storable=b"\\u" in raw)
        offset += len(raw)
        number += 1
        raw = readline()


_BLANK = object()


def _slow_decode(raw: bytes, number: int, offset: int) -> object:
    # Decoding ourselves (rather than json.loads(bytes)) keeps UTF-8 strict: json would let
    # encoded surrogates through and could guess UTF-16.
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise utf8_error(exc, number, offset) from None
    if line.isspace():
        return _BLANK
    return _decode_line(line, number)
