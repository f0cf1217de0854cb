"""Find one section of a guideline's Markdown by its heading.

Training feedback (step 7) shows the part of the guideline that explains a gold answer: the
text under the named heading up to the next heading of the same or a higher level, so a
``## Opinion`` section keeps its ``### Examples`` subsection but stops at the next ``##``.
Pure functions on text: no database, no rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# Lines that cannot be the text of a setext heading: a "---" under them is something else.
_NOT_SETEXT_TEXT = re.compile(r"^ {0,3}(?:[-*+>]|\d+[.)]|#|$)|^ {4}")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    line: int  # index of the heading's first line


@dataclass(frozen=True)
class Section:
    heading: str
    level: int
    markdown: str  # the heading line(s) and everything under it


def normalise_heading(text: str) -> str:
    """Headings compare without case, surrounding space, runs of spaces or a trailing colon."""
    return " ".join(text.split()).rstrip(":").strip().casefold()


def headings(body: str) -> list[Heading]:
    """Every ATX (``## Name``) and setext (``Name`` over ``===``/``---``) heading, skipping
    fenced code blocks."""
    lines = (body or "").splitlines()
    found: list[Heading] = []
    fence: str | None = None
    for index, line in enumerate(lines):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        atx = _ATX.match(line)
        if atx:
            found.append(Heading(len(atx.group(1)), (atx.group(2) or "").strip(), index))
            continue
        underline = _SETEXT_UNDERLINE.match(line)
        if underline and index > 0:
            text = lines[index - 1]
            is_own_line = not found or found[-1].line != index - 1
            if is_own_line and not _NOT_SETEXT_TEXT.match(text) and not _FENCE.match(text):
                level = 1 if underline.group(1)[0] == "=" else 2
                found.append(Heading(level, text.strip(), index - 1))
    return found


def section(body: str, heading: str) -> Section | None:
    """The first section whose heading matches ``heading`` (see ``normalise_heading``), or
    None when the guideline has no such heading."""
    wanted = normalise_heading(heading)
    if not wanted:
        return None
    all_headings = headings(body)
    for position, found in enumerate(all_headings):
        if normalise_heading(found.text) != wanted:
            continue
        end = None
        for later in all_headings[position + 1 :]:
            if later.level <= found.level:
                end = later.line
                break
        lines = body.splitlines()[found.line : end]
        return Section(found.text, found.level, "\n".join(lines).strip() + "\n")
    return None
