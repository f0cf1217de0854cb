"""The contract every import parser follows (DMOps step 2, parsing half).

A parser is a callable ``parse(stream, options) -> Iterator[ParsedRow | Rejection]``. It reads a
*binary* stream (a Django ``UploadedFile`` or an ``open(path, "rb")`` file) incrementally and
never holds the whole file (the one exception is ``wikitext``, a single article that the wiki
parser needs whole, capped at 2 MiB); the caller enforces the size limit, decompresses
(:mod:`annotation.sources.compression`) and writes the rows (COPY, one transaction). Rows come
out lazily, so the caller can stream them into COPY. Pure Python: nothing here imports Django.

Fatal vs per-row
================
A problem that makes the rest of the file untrustworthy aborts the import with
:class:`ImportFormatError` (raised from the iterator, so the caller's transaction rolls back):

* the file is empty or holds no record at all;
* the bytes are not UTF-8 (the message gives the line and the byte offset);
* malformed JSON on a JSONL line, or anywhere in a JSON array (line and column given), a JSON
  document that is not an array where one is required, data after the closing ``]``;
* CSV/TSV: the header lacks the text (or id) column, repeats a column name, or the quoting is
  broken (an unterminated quote, text after a closing quote);
* malformed XML in a MediaWiki export.

A problem confined to one record becomes a :class:`Rejection` and the import goes on:

* empty or whitespace-only text, a missing/``null`` text field, a text field that is not a
  string, a record that is not a JSON object;
* a CSV/TSV row whose field count differs from the header's (its columns cannot be trusted);
* a NUL character or a lone surrogate in the text or metadata (PostgreSQL cannot store them
  in ``text``/``jsonb``, and one such row would abort the whole COPY).

Blank lines in line-based formats (text, JSONL, CSV) are not records: they are skipped silently.

Positions
=========
``ParsedRow.line``/``Rejection.line`` is the 1-based physical line where the record starts for
the line-based formats (text, CSV/TSV, JSONL; a quoted CSV field may span several lines). For
JSON arrays and Label Studio exports it is the 1-based *element number* (a minified array is one
line), and for the wiki formats the 1-based *sentence number* in the file. Each parser states
which in its ``position`` attribute. :class:`ImportFormatError` always reports the physical line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal

#: Sections whose content is link lists and references, not prose; the wiki parsers skip them.
DEFAULT_SKIP_SECTIONS = frozenset(
    {
        "see also",
        "references",
        "notes",
        "external links",
        "further reading",
        "bibliography",
        "sources",
        "citations",
        "footnotes",
        "notes and references",
        "references and notes",
        "works cited",
        "explanatory notes",
    }
)


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One item to import."""

    line: int  # see "Positions" in the module docstring
    text: str
    external_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    weak_labels: tuple[str, ...] = ()  # WikiSQE labels from inline templates/markers, or
    # Label Studio choices/labels; order of appearance, no duplicates


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record skipped without aborting the import; the caller counts and reports these."""

    line: int
    code: str  # one of the REJECT_* constants below: stable, for grouping in reports
    reason: str  # human-readable
    external_id: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


REJECT_EMPTY_TEXT = "empty_text"
REJECT_MISSING_TEXT = "missing_text"
REJECT_BAD_TEXT_TYPE = "text_not_string"
REJECT_NOT_OBJECT = "not_an_object"
REJECT_FIELD_COUNT = "field_count"
REJECT_UNSTORABLE = "unstorable_character"


class ImportFormatError(ValueError):
    """The file cannot be imported at all; ``str()`` reads ``"line 51234: invalid JSON: ..."``."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """What to read from each record. Unused fields are ignored by formats they don't concern."""

    text_field: str = "text"  # CSV/TSV column, JSON(L) key, Label Studio ``data`` key
    id_field: str | None = None  # column/key for ``external_id``; Label Studio: task ``id``
    metadata_fields: tuple[str, ...] | None = None  # None: every other column/key; (): none
    delimiter: str | None = None  # CSV: "," (or ";"), TSV: "\t"
    quoting: bool = True  # CSV/TSV: honour "..." quoting; False for unquoted (IANA) TSV
    title: str = "untitled"  # wikitext/rendered_wiki: the article's title
    language: str = "en"  # pysbd sentence-splitter language
    min_words: int = 1  # wiki formats: shorter sentences are dropped
    skip_sections: frozenset[str] = DEFAULT_SKIP_SECTIONS  # wiki: lower-cased headings to skip


ParseResult = Iterator[ParsedRow | Rejection]
ParseFunc = Callable[[IO[bytes], ParseOptions], ParseResult]


@dataclass(frozen=True)
class Parser:
    """A registered format: call it like the function it wraps."""

    name: str
    func: ParseFunc
    position: Literal["line", "element", "sentence"]  # what ``ParsedRow.line`` counts
    description: str = ""

    def __call__(self, stream: IO[bytes], options: ParseOptions | None = None) -> ParseResult:
        return _require_records(self.func(stream, options or ParseOptions()))


def _require_records(rows: ParseResult) -> ParseResult:
    # A file that yields nothing is almost always the wrong file or the wrong format.
    seen = False
    for row in rows:
        seen = True
        yield row
    if not seen:
        raise ImportFormatError(None, "the file contains no records")


# --- reading ---------------------------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"


def utf8_error(exc: UnicodeDecodeError, line: int, line_offset: int) -> ImportFormatError:
    """Describe *exc* for a user: which line, which byte, where in the file."""
    bad = exc.object[exc.start : exc.start + 1].hex()
    return ImportFormatError(
        line,
        f"the file is not valid UTF-8: byte 0x{bad} at byte offset {line_offset + exc.start} "
        "(save or export the file as UTF-8)",
    )


def iter_lines(stream: IO[bytes]) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each physical line, line ending kept, BOM dropped.

    Lines are split on ``\\n`` only (``\\r\\n`` stays at the end of the line, which the csv
    module expects) and decoded strictly one by one, so a bad byte is reported with its line.
    """
    readline = stream.readline
    first = readline()
    if isinstance(first, str):
        raise TypeError("parsers need a binary stream: open the file with 'rb'")
    if not first:
        raise ImportFormatError(None, "the file is empty")
    if first.startswith(_BOM):
        first = first[len(_BOM) :]
        offset = len(_BOM)
    else:
        offset = 0
    raw = first
    number = 1
    while raw:
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise utf8_error(exc, number, offset) from None
        offset += len(raw)
        number += 1
        raw = readline()


# --- building rows ---------------------------------------------------------------------------


def json_constant_as_null(name: str) -> None:
    """``parse_constant`` for json: Python's json reads ``NaN`` and ``Infinity``, which are not
    JSON and which PostgreSQL's jsonb (and SQLite's JSON check) refuse, so they become null."""
    return None


def unstorable_reason(value: Any) -> str | None:
    """Why PostgreSQL would refuse *value* (NUL, lone surrogate), walking containers; or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character (U+0000), which PostgreSQL cannot store"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (an invalid \\uD800-\\uDFFF escape)"
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            reason = unstorable_reason(key) or unstorable_reason(item)
            if reason:
                return reason
    elif isinstance(value, list | tuple):
        for item in value:
            reason = unstorable_reason(item)
            if reason:
                return reason
    return None


def text_rejection(line: int, text: Any, field_name: str, external_id: str) -> Rejection | None:
    """The rejection for an unusable text value, or None if *text* is a non-blank string."""
    if text is None:
        return Rejection(line, REJECT_MISSING_TEXT, f"no text field {field_name!r}", external_id)
    if not isinstance(text, str):
        return Rejection(
            line,
            REJECT_BAD_TEXT_TYPE,
            f"text field {field_name!r} is a {type(text).__name__}, not a string",
            external_id,
        )
    if not text or text.isspace():
        return Rejection(line, REJECT_EMPTY_TEXT, "empty text", external_id)
    return None


def id_to_str(value: Any) -> str:
    """External ids arrive as strings or numbers; ``None`` means none."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def select_metadata(
    record: Mapping[str, Any], options: ParseOptions, exclude: Iterable[str]
) -> dict[str, Any]:
    """The metadata part of *record* according to ``options.metadata_fields``."""
    if options.metadata_fields is None:
        skip = set(exclude)
        return {k: v for k, v in record.items() if k not in skip}
    return {k: record[k] for k in options.metadata_fields if k in record}


def row_from_mapping(
    record: Any, line: int, options: ParseOptions, *, check_storable: bool = True
) -> ParsedRow | Rejection:
    """Turn one freshly decoded JSON value into a row (the value's dict is reused as metadata).

    Hot path of the JSON formats: kept free of helper calls for the common, valid record.
    """
    if type(record) is not dict:
        return Rejection(
            line, REJECT_NOT_OBJECT, f"expected a JSON object, got {_json_type(record)}"
        )
    id_field = options.id_field
    external_id = id_to_str(record.get(id_field)) if id_field else ""
    text = record.get(options.text_field)
    if type(text) is not str or not text or text.isspace():
        return text_rejection(line, text, options.text_field, external_id)  # type: ignore[return-value]
    if options.metadata_fields is None:
        metadata = record
        del metadata[options.text_field]
        if id_field:
            metadata.pop(id_field, None)
    else:
        metadata = {k: record[k] for k in options.metadata_fields if k in record}
    if check_storable:
        reason = unstorable_reason(text) or unstorable_reason(metadata)
        if reason:
            return Rejection(line, REJECT_UNSTORABLE, reason, external_id)
    return ParsedRow(line, text, external_id, metadata)


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
