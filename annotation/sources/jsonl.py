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

from annotation.sources.base import (
    ImportFormatError,
    ParsedRow,
    ParseOptions,
    Rejection,
    row_from_mapping,
    utf8_error,
)

_BOM = b"\xef\xbb\xbf"
#: The C scanner behind json.loads, minus the two regex whitespace skips per call; any failure
#: falls back to json.loads, which produces the standard error message.
_scan_once = make_scanner(json.JSONDecoder())


def _decode_line(line: str, number: int) -> object:
    try:
        value, end = _scan_once(line, 0)
        if end == len(line) or line[end:].isspace():
            return value
    except (StopIteration, json.JSONDecodeError):
        pass
    try:
        return json.loads(line)
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
    while raw:
        # Decoding ourselves (rather than json.loads(bytes)) keeps UTF-8 strict: json would
        # let encoded surrogates through and could guess UTF-16.
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise utf8_error(exc, number, offset) from None
        if not line.isspace():
            record = _decode_line(line, number)
            # Escapes are the only way a NUL or a lone surrogate gets past strict decoding,
            # so the deep check runs only for lines that contain one.
            yield row_from_mapping(record, number, options, check_storable="\\u" in line)
        offset += len(raw)
        number += 1
        raw = readline()
