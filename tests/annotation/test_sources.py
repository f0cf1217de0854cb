"""Import parsers: the registry, CSV/TSV and plain text (annotation.sources). The JSON formats
are in test_sources_json.py, compressed input in test_sources_compressed.py."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from annotation.sources import PARSERS, ImportFormatError, ParsedRow, ParseOptions, get_parser
from annotation.sources.base import (
    REJECT_EMPTY_TEXT,
    REJECT_FIELD_COUNT,
    REJECT_UNSTORABLE,
    Rejection,
)


def run(fmt: str, data: bytes | str, **options: object) -> list[ParsedRow | Rejection]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return list(get_parser(fmt)(io.BytesIO(data), ParseOptions(**options)))  # type: ignore[arg-type]


def rows(result: list[ParsedRow | Rejection]) -> list[ParsedRow]:
    return [r for r in result if isinstance(r, ParsedRow)]


def rejections(result: list[ParsedRow | Rejection]) -> list[Rejection]:
    return [r for r in result if isinstance(r, Rejection)]


def fatal(fmt: str, data: bytes | str, **options: object) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        run(fmt, data, **options)
    return info.value


class CountingStream(io.BytesIO):
    """Records how far a parser has read, to prove it streams."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.high_water = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.high_water = max(self.high_water, self.tell())
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.high_water = max(self.high_water, self.tell())
        return line


# --- registry ----------------------------------------------------------------------------------


def test_registry_names_every_format() -> None:
    assert set(PARSERS) == {
        "csv",
        "tsv",
        "json",
        "jsonl",
        "text",
        "labelstudio",
        "wikitext",
        "mediawiki_xml",
        "rendered_wiki",
    }
    assert get_parser("jsonl").position == "line"
    assert get_parser("json").position == "element"
    assert get_parser("mediawiki_xml").position == "sentence"


def test_unknown_format_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown import format 'xlsx'.*csv"):
        get_parser("xlsx")


def test_text_mode_stream_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="binary"):
        list(get_parser("jsonl")(io.StringIO('{"text": "a"}\n'), ParseOptions()))  # type: ignore[arg-type]


def test_parsers_do_not_import_django() -> None:
    # The parsing layer runs in workers and scripts that have no Django settings.
    code = (
        "import sys, annotation.sources, annotation.wikisqe; "
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_import_format_error_str() -> None:
    assert str(ImportFormatError(51234, "invalid JSON: x")) == "line 51234: invalid JSON: x"
    assert str(ImportFormatError(None, "the file is empty")) == "the file is empty"


# --- CSV / TSV ---------------------------------------------------------------------------------


def test_csv_basic_with_id_and_default_metadata() -> None:
    result = run("csv", "id,text,source\n1,Hello world,web\n2,Second,book\n", id_field="id")
    assert result == [
        ParsedRow(2, "Hello world", "1", {"source": "web"}),
        ParsedRow(3, "Second", "2", {"source": "book"}),
    ]


def test_csv_quoting_embedded_newlines_and_start_lines() -> None:
    data = 'text,label\r\n"He said, ""hi""",a\r\n"two\r\nphysical lines",b\r\nplain,c\r\n'
    result = run("csv", "\ufeff" + data, metadata_fields=())
    assert [(r.line, r.text, r.metadata) for r in rows(result)] == [
        (2, 'He said, "hi"', {}),
        (3, "two\r\nphysical lines", {}),
        (5, "plain", {}),
    ]


def test_csv_bom_is_not_part_of_the_first_column_name() -> None:
    result = run("csv", b"\xef\xbb\xbftext,x\nA,1\n")
    assert rows(result) == [ParsedRow(2, "A", "", {"x": "1"})]


def test_csv_blank_lines_are_skipped_and_empty_text_rejected() -> None:
    result = run("csv", "text,x\n\nA,1\n   ,2\n,3\nB,4\n")
    assert [r.text for r in rows(result)] == ["A", "B"]
    assert [(r.line, r.code) for r in rejections(result)] == [
        (4, REJECT_EMPTY_TEXT),
        (5, REJECT_EMPTY_TEXT),
    ]


def test_csv_wrong_field_count_is_rejected_per_row() -> None:
    result = run("csv", "text,x\nA,1\nB,2,extra\nC\nD,4\n")
    assert [r.text for r in rows(result)] == ["A", "D"]
    assert [(r.line, r.code) for r in rejections(result)] == [
        (3, REJECT_FIELD_COUNT),
        (4, REJECT_FIELD_COUNT),
    ]
    assert "expected 2 fields" in rejections(result)[0].reason


def test_csv_missing_text_column_is_fatal_and_lists_columns() -> None:
    error = fatal("csv", "sentence,label\nA,1\n")
    assert error.line == 1
    assert "text column 'text' not found" in error.message
    assert "'sentence', 'label'" in error.message


def test_csv_missing_id_column_and_duplicate_column_are_fatal() -> None:
    assert "id column 'uid'" in fatal("csv", "text\nA\n", id_field="uid").message
    assert "appears twice" in fatal("csv", "text,a,a\nA,1,2\n").message


def test_csv_explicit_metadata_columns_and_semicolon_delimiter() -> None:
    result = run("csv", "text;a;b\nA;1;2\n", delimiter=";", metadata_fields=("b",))
    assert rows(result) == [ParsedRow(2, "A", "", {"b": "2"})]
    assert "metadata column 'zz'" in fatal("csv", "text\nA\n", metadata_fields=("zz",)).message


def test_csv_unterminated_quote_is_fatal() -> None:
    error = fatal("csv", 'text,x\n"never closed,1\nB,2\n')
    assert error.message.startswith("malformed CSV:")


def test_csv_empty_and_header_only_files_are_fatal() -> None:
    assert fatal("csv", "").message == "the file is empty"
    assert fatal("csv", "\n\n").message == "the file is empty"
    assert fatal("csv", "text,x\n").message == "the file contains no records"


def test_csv_not_utf8_names_line_and_byte_offset() -> None:
    data = b"text\nfine\n" + "café\n".encode("latin-1")
    error = fatal("csv", data)
    assert error.line == 3
    assert "not valid UTF-8: byte 0xe9 at byte offset 13" in error.message


def test_csv_nul_character_is_rejected_not_fatal() -> None:
    result = run("csv", "text,x\nA\x00B,1\nC,2\n")
    assert [r.text for r in rows(result)] == ["C"]
    assert rejections(result)[0].code == REJECT_UNSTORABLE


def test_csv_long_field_over_default_csv_limit() -> None:
    long_text = "x" * 300_000
    assert rows(run("csv", f"text\n{long_text}\n"))[0].text == long_text


def test_tsv_quoted_and_unquoted() -> None:
    assert rows(run("tsv", 'text\tid\n"tab\tinside"\t7\n', id_field="id")) == [
        ParsedRow(2, "tab\tinside", "7", {})
    ]
    # IANA TSV: quotes are ordinary characters.
    result = run("tsv", 'text\tid\n"Hello," she said.\t1\n', id_field="id", quoting=False)
    assert rows(result)[0].text == '"Hello," she said.'
    # With quoting on, the same line is reported instead of silently mangled.
    error = fatal("tsv", 'text\tid\n"Hello," she said.\t1\n')
    assert error.line == 2 and "quoting=False" in error.message


# --- text --------------------------------------------------------------------------------------


def test_text_one_item_per_line() -> None:
    data = b"\xef\xbb\xbffirst line\r\n\n  indented stays  \nlast without newline"
    assert run("text", data) == [
        ParsedRow(1, "first line"),
        ParsedRow(3, "  indented stays  "),
        ParsedRow(4, "last without newline"),
    ]


def test_text_errors() -> None:
    assert fatal("text", b"").message == "the file is empty"
    assert fatal("text", b"ok\nbad \xe9\n").line == 2
    assert rejections(run("text", "a\nb\x00c\n"))[0].line == 2
