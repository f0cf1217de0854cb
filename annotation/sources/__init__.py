"""Import parsers (DMOps step 2): bytes in, :class:`ParsedRow`/:class:`Rejection` out.

``get_parser("jsonl")(stream, ParseOptions(text_field="sentence"))`` returns an iterator; see
:mod:`annotation.sources.base` for the contract, what is fatal and what is rejected per row.
"""

from __future__ import annotations

from annotation.sources.base import (
    ImportFormatError,
    ParsedRow,
    ParseOptions,
    Parser,
    Rejection,
)
from annotation.sources.csv import parse_csv, parse_tsv
from annotation.sources.json import parse_json
from annotation.sources.jsonl import parse_jsonl
from annotation.sources.labelstudio import parse_labelstudio
from annotation.sources.text import parse_text
from annotation.sources.wikitext import parse_mediawiki_xml, parse_rendered_wiki, parse_wikitext

PARSERS: dict[str, Parser] = {
    parser.name: parser
    for parser in (
        Parser("csv", parse_csv, "line", "CSV with a header row"),
        Parser("tsv", parse_tsv, "line", "Tab-separated values with a header row"),
        Parser("json", parse_json, "element", "JSON array of objects"),
        Parser("jsonl", parse_jsonl, "line", "JSON Lines, one object per line"),
        Parser("text", parse_text, "line", "Plain text, one item per line"),
        Parser("labelstudio", parse_labelstudio, "element", "Label Studio JSON export"),
        Parser("wikitext", parse_wikitext, "sentence", "Wikitext of one article"),
        Parser("mediawiki_xml", parse_mediawiki_xml, "sentence", "MediaWiki XML export/dump"),
        Parser("rendered_wiki", parse_rendered_wiki, "sentence", "Rendered Wikipedia text"),
    )
}


def get_parser(name: str) -> Parser:
    """The parser registered as *name*; ``ValueError`` naming the known formats otherwise."""
    try:
        return PARSERS[name]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise ValueError(f"unknown import format {name!r} (known: {known})") from None


__all__ = [
    "PARSERS",
    "ImportFormatError",
    "ParseOptions",
    "ParsedRow",
    "Parser",
    "Rejection",
    "get_parser",
]
