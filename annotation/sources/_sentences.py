"""Sentence splitting that keeps track of where cleanup markers were.

The wiki parsers remove every inline cleanup template (or rendered ``[citation needed]``
marker) from a paragraph and remember its character offset instead of leaving a placeholder in
the text: a placeholder glued to a full stop changes pysbd's decisions (after ``Dr.`` it forces
a split, after ``"no."`` it prevents one). After splitting, a marker belongs to the last
sentence that *starts before* it. That is the WikiSQE convention (a template follows the claim
it tags), and it also covers a template that stands at the start of the next sentence's text:
``claim. {{cn}}Next`` tags "claim.".
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

import pysbd

from annotation.sources._pysbd_fast import FastEnglish

_WORD = re.compile(r"\w+")
#: Characters after which pysbd may end a sentence; a paragraph with none of them before its
#: final punctuation is one sentence, and pysbd is not asked (list items, short captions).
_TERMINAL = re.compile(r"[.!?…。！？]")
_TRAILING = " \t.!?…。！？\"')]”’»"


@dataclass(slots=True)
class Sentence:
    """A sentence of one paragraph, with the labels of the markers that follow it."""

    text: str
    start: int  # offset in the paragraph
    labels: list[str] = field(default_factory=list)


class SentenceSplitter:
    """pysbd with marker assignment; one instance per import (pysbd setup is not free)."""

    def __init__(self, language: str = "en", min_words: int = 1) -> None:
        self._segmenter = pysbd.Segmenter(language=language, clean=False)
        if language == "en":
            self._segmenter.language_module = FastEnglish
        self._min_words = max(min_words, 1)

    def split(self, text: str, markers: Sequence[tuple[int, str]] = ()) -> list[Sentence]:
        """Split one paragraph; see :meth:`split_many`."""
        return self.split_many([(text, markers)])[0]

    def split_many(
        self, paragraphs: Sequence[tuple[str, Sequence[tuple[int, str]]]]
    ) -> list[list[Sentence]]:
        """Split paragraphs (no newlines inside) and attach each ``(offset, label)`` marker.

        A paragraph without sentence punctuation before its end (a list item, a caption) is
        one sentence without asking pysbd. The others go through pysbd in one call, joined by
        newlines, which pysbd treats as hard boundaries: its hundred-odd regex rules then run
        once per article instead of once per paragraph.

        Markers before a paragraph's first kept sentence have nothing to tag and are dropped,
        and so are sentences with fewer than ``min_words`` words (a stray ")" left by stripped
        markup).
        """
        result: list[list[Sentence]] = [[] for _ in paragraphs]
        batch = []  # paragraph numbers that need pysbd
        for number, (text, _) in enumerate(paragraphs):
            if _TERMINAL.search(text.rstrip(_TRAILING)):
                batch.append(number)
            else:
                sentence = text.strip()
                if sentence and self._keep(sentence):
                    result[number].append(Sentence(sentence, text.find(sentence)))
        if batch:
            self._split_batch(paragraphs, batch, result)
        for sentences, (_, markers) in zip(result, paragraphs, strict=True):
            if markers and sentences:
                _attach(sentences, markers)
        return result

    def _split_batch(
        self,
        paragraphs: Sequence[tuple[str, Sequence[tuple[int, str]]]],
        batch: list[int],
        result: list[list[Sentence]],
    ) -> None:
        joined = "\n".join(paragraphs[number][0] for number in batch)
        starts = []
        position = 0
        for number in batch:
            starts.append(position)
            position += len(paragraphs[number][0]) + 1
        cursor = 0
        # Straight to pysbd's processor: Segmenter.segment() maps each sentence back onto the
        # text by compiling one regex per sentence, which thrashes the re cache and took half
        # the run time; str.find() does the same job here.
        for piece in self._segmenter.processor(joined).process():
            piece = piece.strip()
            if not piece:
                continue
            found = joined.find(piece, cursor)
            # pysbd returns substrings with clean=False; should a rule ever rewrite one, keep
            # its text and place it at the cursor (its markers are then approximate).
            start = cursor if found < 0 else found
            if found >= 0:
                cursor = found + len(piece)
            if self._keep(piece):
                index = bisect_right(starts, start) - 1
                result[batch[index]].append(Sentence(piece, start - starts[index]))

    def _keep(self, sentence: str) -> bool:
        if self._min_words == 1:
            return _WORD.search(sentence) is not None
        return len(_WORD.findall(sentence)) >= self._min_words


def _attach(sentences: list[Sentence], markers: Sequence[tuple[int, str]]) -> None:
    starts = [s.start for s in sentences]
    for offset, label in markers:
        index = bisect_left(starts, offset) - 1
        if index >= 0:
            labels = sentences[index].labels
            if label not in labels:
                labels.append(label)
