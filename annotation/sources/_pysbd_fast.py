"""pysbd's English rules with exact shortcuts in front of its two most expensive passes.

pysbd (pinned at 0.3.4) was two thirds of the wiki import's time, mostly in two passes whose
regexes scan every line and almost never change anything in encyclopedic prose:

* the abbreviation pass runs ``re.findall`` for each of ~190 abbreviations that occurs in the
  line as a mere substring ("p" in "population");
* the inline-list pass (``ListItemReplacer.add_line_break``) runs half a dozen lookbehind-heavy
  regexes over the whole text to find enumerations like "a) ... b) ..." or "1. ... 2. ...".

Both shortcuts only skip work when a cheap test proves the pass cannot change the text; the
remaining cases run pysbd's own code. ``tests/annotation/test_wikitext.py`` checks the result
against unmodified pysbd on random abbreviation- and list-heavy text.
"""

from __future__ import annotations

import re
import string

from pysbd.lang.english import English
from pysbd.lists_item_replacer import ListItemReplacer
from pysbd.processor import Processor
from pysbd.utils import Text

_ANY_SPACE = re.compile(r"\s")
_DOTTED_WORD = re.compile(r" ([^\s.]+)\.")
_LOWER = frozenset(string.ascii_lowercase)


class _AbbreviationReplacer(English.AbbreviationReplacer):
    """Every replacement of this pass rewrites the period in ``<space or start><abbr>.``.

    So an abbreviation never written that way cannot change the line and is skipped. Since a
    plain abbreviation holds neither space nor dot, " <abbr>." occurs exactly when <abbr> is
    one of the words found by ``_DOTTED_WORD``. (The few abbreviations containing "." are
    regexes in pysbd and always take the original path.)
    """

    def search_for_abbreviations_in_string(self, text: str) -> str:
        lowered = text.lower()
        if "." not in lowered:
            return text
        dotted = set(_DOTTED_WORD.findall(" " + _ANY_SPACE.sub(" ", lowered)))
        candidates = [
            abbr
            for abbr, stripped, is_regex in _abbreviations(self.lang)
            if ((stripped in lowered) if is_regex else (stripped in dotted))
        ]
        if not candidates:
            return text
        # The body of pysbd's method, restricted to the candidates (same order, same result).
        for abbr in candidates:
            stripped = abbr.strip()
            matches = re.findall(rf"(?:^|\s|\r|\n){stripped}", text, flags=re.IGNORECASE)
            if not matches:
                continue
            next_word_start = r"(?<={" + str(re.escape(stripped)) + "} ).{1}"
            char_array = re.findall(next_word_start, text)
            for index, match in enumerate(matches):
                text = self.scan_for_replacements(text, match, index, char_array)
        return text


_ABBREVIATIONS: dict[type, list[tuple[str, str, bool]]] = {}


def _abbreviations(lang: type) -> list[tuple[str, str, bool]]:
    try:
        return _ABBREVIATIONS[lang]
    except KeyError:
        entries = [(a, a.strip(), "." in a) for a in lang.Abbreviation.ABBREVIATIONS]
        return _ABBREVIATIONS.setdefault(lang, entries)


def may_hold_inline_list(text: str) -> bool:
    """False only if ``ListItemReplacer(text).add_line_break()`` would return *text* unchanged.

    Each of its passes rewrites something only when its regex finds at least two items (two
    consecutive letters or numbers), or when its marker characters are already in the text.
    Every item ends right before a "." or ")" with a recognisable left context, so counting
    positions that *could* end an item (a superset of what the regexes accept) is enough.
    """
    if "♨" in text or "☝" in text:
        return True
    found = 0
    size = len(text)
    for mark in ".)":
        position = text.find(mark, 1)
        while position != -1:
            if _could_end_item(text, position, mark, size):
                found += 1
                if found == 2:
                    return True
            position = text.find(mark, position + 1)
    return False


def _could_end_item(text: str, position: int, mark: str, size: int) -> bool:
    before = text[position - 1]
    after = text[position + 1] if position + 1 < size else ""
    if before in _LOWER:
        start = position - 1
        if mark == ".":  # "a." after a space or at the start: a single letter, nothing else
            return start == 0 or text[start - 1].isspace()
        # "a)" / "(iv)": a short lowercase word after a space, "(" or the text start.
        while start > 0 and text[start - 1] in _LOWER:
            start -= 1
        if position - start > 5:  # longer than any list letter or roman numeral
            return False
        return start == 0 or text[start - 1].isspace() or text[start - 1] == "("
    if before.isdecimal():
        if mark == ")":  # "1) " - pysbd's pattern has no left boundary here
            return after.isspace()
        if not (after.isspace() or after == ")"):
            return False
        start = position - 1
        while start > 0 and text[start - 1].isdecimal():
            start -= 1
        if position - start > 2:  # "1950." is a year, not item 1950
            return False
        return start == 0 or text[start - 1].isspace() or text[start - 1] in "-⁃"
    return False


class _Processor(Processor):
    """pysbd 0.3.4 ``Processor.process`` with the inline-list pass skipped when it is a no-op."""

    def process(self):  # type: ignore[no-untyped-def]
        if not self.text:
            return self.text
        self.text = self.text.replace("\n", "\r")
        if may_hold_inline_list(self.text):
            self.text = ListItemReplacer(self.text).add_line_break()
        self.replace_abbreviations()
        self.replace_numbers()
        self.replace_continuous_punctuation()
        self.replace_periods_before_numeric_references()
        self.text = Text(self.text).apply(
            self.lang.Abbreviation.WithMultiplePeriodsAndEmailRule,
            self.lang.GeoLocationRule,
            self.lang.FileFormatRule,
        )
        return self.split_into_segments()


class FastEnglish(English):
    """pysbd's English language module with the shortcuts; set as a Segmenter's module."""

    AbbreviationReplacer = _AbbreviationReplacer
    Processor = _Processor
