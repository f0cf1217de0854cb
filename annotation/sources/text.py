"""Plain text, one item per line.

The line ending (``\\n`` or ``\\r\\n``) is removed and nothing else: leading and trailing spaces
are part of the item. Blank lines separate nothing and are skipped; ``external_id`` stays empty
and ``line`` is the physical line, which already identifies the item within the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from annotation.sources.base import (
    REJECT_UNSTORABLE,
    ParsedRow,
    ParseOptions,
    Rejection,
    iter_lines,
)


def parse_text(stream: IO[bytes], options: ParseOptions) -> Iterator[ParsedRow | Rejection]:
    """One item per non-blank line; ``options`` is not consulted."""
    for number, line in iter_lines(stream):
        if line.endswith("\n"):
            line = line[:-2] if line.endswith("\r\n") else line[:-1]
        if not line or line.isspace():
            continue
        if "\x00" in line:
            yield Rejection(
                number,
                REJECT_UNSTORABLE,
                "contains a NUL character (U+0000), which PostgreSQL cannot store",
            )
            continue
        yield ParsedRow(number, line)
