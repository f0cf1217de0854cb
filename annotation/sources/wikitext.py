"""Wikipedia input, split into sentences the WikiSQE way.

Three formats share one pipeline (render prose -> split sentences -> attach cleanup labels):

* ``wikitext``: a ``.wiki`` file holding the source of **one** article (at most
  ``MAX_ARTICLE_BYTES``, read whole); its title comes from ``options.title``.
* ``mediawiki_xml``: a MediaWiki XML export or dump (``Special:Export``, ``pages-articles``),
  streamed page by page with ``iterparse``; namespace-agnostic (any export schema version).
  Only main-namespace (``ns`` 0) pages that are not redirects are read, and of a page with
  several revisions only the last one.
* ``rendered_wiki``: plain text as a reader sees it (one paragraph per line), carrying markers
  such as ``[citation needed]`` or ``[who?]``; footnote calls (``[12]``, ``[a]``, ``[note 3]``)
  and ``[edit]`` links are removed, a line ending in ``[edit]`` is taken as a section heading.

Every sentence becomes a :class:`ParsedRow` whose ``weak_labels`` are the WikiSQE labels of the
cleanup templates/markers that follow it, and whose metadata carries ``page_title``,
``section`` (nearest heading, "" for the lead), ``paragraph_index`` (0-based) and
``sentence_index`` (0-based, within the page); XML adds ``page_id``, ``revision_id`` and
``timestamp``, rendered text adds ``source_line``. ``line`` is the sentence's 1-based number in
the file, ``external_id`` is ``"<revision id or title>:<sentence index>"``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import IO

from annotation.sources._sentences import SentenceSplitter
from annotation.sources._wikirender import Output, WikiRenderer
from annotation.sources.base import (
    ImportFormatError,
    ParsedRow,
    ParseOptions,
    Rejection,
    iter_lines,
    utf8_error,
)
from annotation.wikisqe import Taxonomy, load_taxonomy

_REDIRECT = re.compile(r"\s*#redirect\b", re.IGNORECASE)
_BRACKETED = re.compile(r"\[([^\[\]\n]{1,90})\]")
#: Footnote calls and edit links in rendered text: [1], [a], [note 3], [nb 2], [edit].
_FOOTNOTE = re.compile(r"(?:\d{1,4}|[a-z]|(?:note|nb|n) ?\d{1,3}|edit)")


#: A ``.wiki`` upload is one article, parsed whole (mwparserfromhell needs the whole text): the
#: cap is MediaWiki's default ``$wgMaxArticleSize`` (also Wikipedia's), so no real page is
#: refused, and parsing one costs ~70 MB at most (measured: 4 MiB of wikitext took ~140 MB).
#: MediaWiki XML pages are parsed whole too, and are under that size by construction.
MAX_ARTICLE_BYTES = 2 * 1024 * 1024

#: The rendered-text parser splits this many lines at a time, so a long file stays streamed.
RENDERED_BATCH_LINES = 500


class _Pipeline:
    """Sentence numbering and row building shared by the three formats."""

    def __init__(self, options: ParseOptions, taxonomy: Taxonomy | None = None) -> None:
        self.taxonomy = taxonomy or load_taxonomy()
        self.splitter = SentenceSplitter(options.language, options.min_words)
        self.renderer = WikiRenderer(self.taxonomy, options.skip_sections)
        self.skip_sections = options.skip_sections
        self.number = 0  # sentences emitted in the whole file
        # Position within the current page, carried across batches of one page.
        self.sentence_index = 0
        self.paragraph_index = 0

    def start_page(self) -> None:
        self.sentence_index = 0
        self.paragraph_index = 0

    def rows(
        self, out: Output, page: dict[str, object], key: str, *, first_line: int | None = None
    ) -> Iterator[ParsedRow]:
        """Rows for the paragraphs of *out*; ``first_line`` adds ``source_line`` metadata."""
        paragraphs = list(out.paragraphs())
        split = self.splitter.split_many([(p.text, p.markers) for p in paragraphs])
        for paragraph, sentences in zip(paragraphs, split, strict=True):
            for sentence in sentences:
                self.number += 1
                metadata = {
                    **page,
                    "section": paragraph.section,
                    "paragraph_index": self.paragraph_index,
                    "sentence_index": self.sentence_index,
                }
                if first_line is not None:
                    metadata["source_line"] = first_line + paragraph.index
                yield ParsedRow(
                    self.number,
                    sentence.text,
                    f"{key}:{self.sentence_index}",
                    metadata,
                    tuple(sentence.labels),
                )
                self.sentence_index += 1
            self.paragraph_index += 1


def parse_wikitext(stream: IO[bytes], options: ParseOptions) -> Iterator[ParsedRow | Rejection]:
    """One article's wikitext; the title is ``options.title``."""
    # The wiki parser needs the article whole; the cap keeps that bounded (see MAX_ARTICLE_BYTES).
    raw = stream.read(MAX_ARTICLE_BYTES + 1)
    if isinstance(raw, str):
        raise TypeError("parsers need a binary stream: open the file with 'rb'")
    if len(raw) > MAX_ARTICLE_BYTES:
        raise ImportFormatError(
            None,
            f"a wikitext file holds one article, and this one is over {MAX_ARTICLE_BYTES:,} bytes "
            "(2 MiB, the largest page MediaWiki accepts by default); to import many articles, "
            "upload a MediaWiki XML export, which is read page by page",
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        wikitext = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise utf8_error(exc, raw.count(b"\n", 0, exc.start) + 1, 0) from None
    if not wikitext.strip():
        raise ImportFormatError(None, "the file is empty")
    pipeline = _Pipeline(options)
    out = pipeline.renderer.render(wikitext)
    yield from pipeline.rows(out, {"page_title": options.title}, options.title)


def parse_mediawiki_xml(
    stream: IO[bytes], options: ParseOptions
) -> Iterator[ParsedRow | Rejection]:
    """A MediaWiki XML export/dump, page by page."""
    pipeline = _Pipeline(options)
    for page in iter_pages(stream):
        if page.ns != "0" or page.redirect or _REDIRECT.match(page.text):
            continue
        pipeline.start_page()
        out = pipeline.renderer.render(page.text)
        meta: dict[str, object] = {
            "page_title": page.title,
            "page_id": page.page_id,
            "revision_id": page.revision_id,
            "timestamp": page.timestamp,
        }
        yield from pipeline.rows(out, meta, page.revision_id or page.title)


def parse_rendered_wiki(
    stream: IO[bytes], options: ParseOptions
) -> Iterator[ParsedRow | Rejection]:
    """Rendered article text (one paragraph per line) with ``[citation needed]``-style markers."""
    pipeline = _Pipeline(options)
    page = {"page_title": options.title}
    find_label = pipeline.taxonomy.label_for_marker
    section = ""
    skipping = False
    out, first_line = Output(), 1
    for number, line in iter_lines(stream):
        if number - first_line >= RENDERED_BATCH_LINES:
            yield from pipeline.rows(out, page, options.title, first_line=first_line)
            out, first_line = Output(section), number
        line = line.rstrip("\r\n")
        stripped = line.strip()
        if stripped.endswith("[edit]") or (stripped.startswith("==") and stripped.endswith("==")):
            section = stripped.removesuffix("[edit]").strip("= ").strip()
            skipping = section.lower() in pipeline.skip_sections
            out.section(section)  # its newline stands for the heading's line
            continue
        if not skipping:
            cursor = 0
            for match in _BRACKETED.finditer(line):
                label = find_label(match.group(1))
                if label is None and not _FOOTNOTE.fullmatch(match.group(1).strip().lower()):
                    continue  # an ordinary bracket the author wrote
                out.text(line[cursor : match.start()])
                if label is not None:
                    out.marker(label.name)
                cursor = match.end()
            out.text(line[cursor:])
        out.newline()  # one output line per input line: line index + first_line = source line
    yield from pipeline.rows(out, page, options.title, first_line=first_line)


# --- XML ---------------------------------------------------------------------------------------


class Page:
    """The fields of a ``<page>`` element that the import uses."""

    __slots__ = ("title", "ns", "page_id", "redirect", "revision_id", "timestamp", "text")

    def __init__(self) -> None:
        self.title = ""
        self.ns = "0"
        self.page_id = ""
        self.redirect = False
        self.revision_id = ""
        self.timestamp = ""
        self.text = ""


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def iter_pages(stream: IO[bytes]) -> Iterator[Page]:
    """Stream ``<page>`` elements, clearing each once read so memory stays flat."""
    events = ET.iterparse(stream, events=("start", "end"))
    try:
        _, root = next(events)
        for event, element in events:
            if event != "end" or _local(element.tag) != "page":
                continue
            page = Page()
            for child in element:
                tag = _local(child.tag)
                if tag == "title":
                    page.title = child.text or ""
                elif tag == "ns":
                    page.ns = (child.text or "0").strip()
                elif tag == "id":
                    page.page_id = (child.text or "").strip()
                elif tag == "redirect":
                    page.redirect = True
                elif tag == "revision":  # the last one wins: history dumps list them in order
                    for item in child:
                        sub = _local(item.tag)
                        if sub == "id":
                            page.revision_id = (item.text or "").strip()
                        elif sub == "timestamp":
                            page.timestamp = (item.text or "").strip()
                        elif sub == "text":
                            page.text = item.text or ""
            # Clearing the root drops this page and any siblings parsed so far.
            root.clear()
            yield page
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        message = str(exc).split(": line ")[0]
        if not line:
            raise ImportFormatError(None, f"invalid XML: {message}") from None
        raise ImportFormatError(line, f"invalid XML: {message}") from None
