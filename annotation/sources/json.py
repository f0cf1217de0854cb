"""A JSON array of objects (``[{"text": ...}, ...]``), streamed element by element.

:class:`JsonArrayReader` decodes the bytes incrementally (strict UTF-8) into a sliding text
window and hands each element to the C scanner behind ``json.loads``, so a 2 GB array costs one
element of memory plus a read chunk, and a syntax error is reported with its physical line and
column. ``ParsedRow.line`` is the element number (1-based), because a minified array is a
single line.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from json.scanner import make_scanner
from typing import IO, Any

from annotation.sources.base import (
    ImportFormatError,
    ParsedRow,
    ParseOptions,
    Rejection,
    json_constant_as_null,
    row_from_mapping,
)

CHUNK_SIZE = 1 << 20
#: An element still unparsed after this many characters is an unterminated string, not data.
MAX_ELEMENT_CHARS = 256 << 20

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_scan_once = make_scanner(json.JSONDecoder(parse_constant=json_constant_as_null))
_BOM = b"\xef\xbb\xbf"


class JsonArrayReader:
    """Iterate the elements of a top-level JSON array read from a binary stream."""

    def __init__(self, stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> None:
        self._read = stream.read
        self._chunk_size = chunk_size
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._started = False
        self._bytes = 0  # bytes read so far
        self._base = 0  # absolute character offset of _buf[0]
        # Newlines are counted lazily and only forward, so the total cost stays linear.
        self._counted_to = 0  # buffer index up to which newlines have been counted
        self._line = 1  # line number at _counted_to
        self._line_start = 0  # absolute character offset where that line starts

    # -- public ----------------------------------------------------------------------------

    def elements(self) -> Iterator[tuple[int, Any, bool]]:
        """Yield ``(element_number, value, has_escape)``; ``has_escape`` flags a ``\\u`` escape.

        Raises :class:`ImportFormatError` for anything that is not one well-formed array.
        """
        char = self._peek()
        if not char:
            raise ImportFormatError(None, "the file is empty")
        if char != "[":
            kind = "an object" if char == "{" else f"{char!r}"
            hint = " (one object per line is JSON Lines: choose that format)" if char == "{" else ""
            raise self._error(self._pos, f"expected a JSON array '[', found {kind}{hint}")
        self._pos += 1
        if self._peek() == "]":
            self._pos += 1
            self._expect_end()
            return
        number = 0
        while True:
            start = self._pos
            value, end = self._decode_value()
            number += 1
            has_escape = self._buf.find("\\u", start, end) != -1
            self._pos = end
            yield number, value, has_escape
            char = self._peek()
            if char == ",":
                self._pos += 1
                if self._peek() == "]":
                    raise self._error(self._pos, "invalid JSON: trailing comma before ']'")
            elif char == "]":
                self._pos += 1
                self._expect_end()
                return
            elif not char:
                raise self._error(self._pos, "invalid JSON: the file ends before the closing ']'")
            else:
                raise self._error(self._pos, "invalid JSON: Expecting ',' delimiter")

    # -- reading -----------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Append one decoded chunk to the window; False at end of file."""
        if self._eof:
            return False
        chunk = self._read(self._chunk_size)
        if not self._started:
            self._started = True
            if isinstance(chunk, str):
                raise TypeError("parsers need a binary stream: open the file with 'rb'")
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
                self._bytes = len(_BOM)
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = self._line_at(len(self._buf)) + exc.object[: exc.start].count(b"\n")
            offset = self._bytes - pending + exc.start
            bad = exc.object[exc.start : exc.start + 1].hex() or "end of file"
            raise ImportFormatError(
                line,
                f"the file is not valid UTF-8: byte 0x{bad} at byte offset {offset} "
                "(save or export the file as UTF-8)",
            ) from None
        self._bytes += len(chunk)
        if not chunk:
            self._eof = True
            return False
        if self._pos > len(self._buf) // 2:  # drop what has been consumed before growing
            self._line_at(self._pos)
            self._buf = self._buf[self._pos :]
            self._base += self._pos
            self._counted_to -= self._pos
            self._pos = 0
        self._buf += text
        return True

    def _peek(self) -> str:
        """Skip whitespace; the next character, or "" at end of file."""
        while True:
            self._pos = _WHITESPACE.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _decode_value(self) -> tuple[Any, int]:
        while True:
            try:
                value, end = _scan_once(self._buf, self._pos)
            except StopIteration as exc:
                message, where = "Expecting value", exc.value
            except json.JSONDecodeError as exc:
                message, where = exc.msg, exc.pos
            else:
                # A number or literal ending exactly at the window's edge may be cut short.
                if end < len(self._buf) or not self._fill():
                    return value, end
                continue
            # The window may end inside this element. Apart from strings, a token is decided
            # within a few characters, so an error with plenty of text after it is real; an
            # unterminated string is only told from a long one by the size cap.
            if not message.startswith("Unterminated string") and len(self._buf) - where > 64:
                break
            if len(self._buf) - self._pos > MAX_ELEMENT_CHARS:
                raise self._error(self._pos, "an array element is too large (over 256 MiB)")
            base = self._base
            if not self._fill():
                break
            where -= self._base - base  # the window may have been compacted
        raise self._error(where, f"invalid JSON: {message}")

    def _expect_end(self) -> None:
        if self._peek():
            raise self._error(self._pos, "invalid JSON: unexpected data after the closing ']'")

    # -- positions ---------------------------------------------------------------------------

    def _line_at(self, index: int) -> int:
        if index > self._counted_to:
            newlines = self._buf.count("\n", self._counted_to, index)
            if newlines:
                self._line += newlines
                self._line_start = self._base + self._buf.rfind("\n", 0, index) + 1
            self._counted_to = index
        return self._line

    def _error(self, index: int, message: str) -> ImportFormatError:
        line = self._line_at(index)
        column = self._base + index - self._line_start + 1
        return ImportFormatError(line, f"{message} (column {column})")


def parse_json(stream: IO[bytes], options: ParseOptions) -> Iterator[ParsedRow | Rejection]:
    """Parse a JSON array of objects; ``line`` is the element number."""
    for number, value, has_escape in JsonArrayReader(stream).elements():
        yield row_from_mapping(value, number, options, check_storable=has_escape)
