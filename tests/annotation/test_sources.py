"""Import parsers for the tabular and JSON formats (annotation.sources)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from annotation.sources import PARSERS, ImportFormatError, ParsedRow, ParseOptions, get_parser
from annotation.sources.base import (
    REJECT_BAD_TEXT_TYPE,
    REJECT_EMPTY_TEXT,
    REJECT_FIELD_COUNT,
    REJECT_MISSING_TEXT,
    REJECT_NOT_OBJECT,
    REJECT_UNSTORABLE,
    Rejection,
)
from annotation.sources.json import JsonArrayReader


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


# --- JSONL -------------------------------------------------------------------------------------


def test_jsonl_basic_default_metadata_and_ids() -> None:
    data = (
        '{"id": 5, "text": "Hello", "lang": "en", "tags": ["a"]}\r\n\n{"id": "x", "text": "Hi"}\n'
    )
    assert run("jsonl", data, id_field="id") == [
        ParsedRow(1, "Hello", "5", {"lang": "en", "tags": ["a"]}),
        ParsedRow(3, "Hi", "x", {}),
    ]


def test_jsonl_custom_text_field_and_metadata_selection() -> None:
    data = '{"sentence": "A", "a": 1, "b": 2}\n'
    assert run("jsonl", data, text_field="sentence", metadata_fields=("b", "missing")) == [
        ParsedRow(1, "A", "", {"b": 2})
    ]


def test_jsonl_malformed_line_is_fatal_with_line_number() -> None:
    data = '{"text": "a"}\n{"text": "b"}\n{"text": "c" "d": 1}\n{"text": "e"}\n'
    error = fatal("jsonl", data)
    assert error.line == 3
    assert str(error) == "line 3: invalid JSON: Expecting ',' delimiter (column 14)"


def test_jsonl_per_row_rejections() -> None:
    data = "\n".join(
        [
            '{"text": "ok"}',
            "[1, 2]",
            '{"other": 1}',
            '{"text": null}',
            '{"text": 42}',
            '{"text": "  "}',
            '{"text": "nul \\u0000 inside"}',
            '{"text": "fine", "meta": "lone \\ud800"}',
            '"just a string"',
        ]
    )
    result = run("jsonl", data)
    assert [r.text for r in rows(result)] == ["ok"]
    assert [(r.line, r.code) for r in rejections(result)] == [
        (2, REJECT_NOT_OBJECT),
        (3, REJECT_MISSING_TEXT),
        (4, REJECT_MISSING_TEXT),
        (5, REJECT_BAD_TEXT_TYPE),
        (6, REJECT_EMPTY_TEXT),
        (7, REJECT_UNSTORABLE),
        (8, REJECT_UNSTORABLE),
        (9, REJECT_NOT_OBJECT),
    ]
    assert "is a int, not a string" in rejections(result)[3].reason


def test_jsonl_bom_leading_whitespace_and_escapes() -> None:
    data = b'\xef\xbb\xbf  {"text": "caf\\u00e9 \\"q\\""}  \n'
    assert rows(run("jsonl", data))[0].text == 'café "q"'


def test_jsonl_not_utf8_is_fatal_with_offset() -> None:
    data = b'{"text": "a"}\n{"text": "\xff"}\n'
    error = fatal("jsonl", data)
    assert error.line == 2
    assert "byte 0xff at byte offset 24" in error.message


def test_jsonl_empty_and_blank_files() -> None:
    assert fatal("jsonl", b"").message == "the file is empty"
    assert fatal("jsonl", b"\n \n").message == "the file contains no records"


def test_jsonl_streams() -> None:
    line = json.dumps({"text": "x" * 100}).encode() + b"\n"
    stream = CountingStream(line * 10_000)
    iterator = get_parser("jsonl")(stream, ParseOptions())
    next(iterator)
    assert stream.high_water < 100_000  # far less than the 1 MB file


# --- JSON array --------------------------------------------------------------------------------


def test_json_array_rows_are_numbered_by_element() -> None:
    data = '[\n  {"id": 1, "text": "A", "m": {"k": [1, 2]}},\n  {"id": 2, "text": "B"},\n  3\n]\n'
    result = run("json", data, id_field="id")
    assert rows(result) == [
        ParsedRow(1, "A", "1", {"m": {"k": [1, 2]}}),
        ParsedRow(2, "B", "2", {}),
    ]
    assert [(r.line, r.code) for r in rejections(result)] == [(3, REJECT_NOT_OBJECT)]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64])
def test_json_array_reader_is_chunk_size_independent(chunk_size: int) -> None:
    values = [
        {"text": "é€𝄞 multibyte", "n": 12345.678e-3, "ok": True, "none": None},
        {"text": "x" * 50, "nested": [[{"a": "]"}], ","]},
        {"text": 'escapes \\" \n \u00e9'},
        {},
        -17,
        "a string",
    ]
    data = json.dumps(values, ensure_ascii=False, indent=1).encode()
    reader = JsonArrayReader(io.BytesIO(data), chunk_size=chunk_size)
    assert [value for _, value, _ in reader.elements()] == values


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (
            '[{"text": "a"},\n {"text": "b"}\n {"text": "c"}]',
            3,
            "Expecting ',' delimiter (column 2)",
        ),
        ('[{"text": "a"},\n{"text": "b"},\n]', 3, "trailing comma"),
        ('[{"text": "a"}, {"text": "b" "c": 1}]', 1, "Expecting ',' delimiter (column 30)"),
        ('[{"text": "a"}\n', 2, "ends before the closing ']'"),
        ('[{"text": "unterminated}]', 1, "Unterminated string"),
        ('[{"text": "a"}] trailing', 1, "unexpected data after the closing ']'"),
        ('{"text": "a"}', 1, "choose that format"),
        ("[1, 2, tru]", 1, "Expecting value"),
    ],
)
def test_json_array_syntax_errors_are_fatal(data: str, line: int, message: str) -> None:
    error = fatal("json", data)
    assert error.line == line
    assert message in error.message
    assert str(error).startswith(f"line {line}: ")


def test_json_array_errors_late_in_a_big_file_do_not_read_to_the_end() -> None:
    good = b'{"text": "' + b"y" * 100 + b'"},\n'
    data = b"[" + good * 50 + b'{"text": "bad" "x": 1},\n' + good * 50_000 + b'{"text": "z"}]'
    stream = CountingStream(data)
    with pytest.raises(ImportFormatError) as info:
        list(get_parser("json")(stream, ParseOptions()))
    assert info.value.line == 51
    assert stream.high_water < 4 << 20  # a few read chunks, not the 5 MB file


def test_json_array_utf8_error_has_line_and_offset() -> None:
    data = b'[{"text": "a"},\n {"text": "\xc3("}]'
    error = fatal("json", data)
    assert error.line == 2
    assert "byte 0xc3 at byte offset 27" in error.message


def test_json_array_empty_inputs() -> None:
    assert fatal("json", b"").message == "the file is empty"
    assert fatal("json", b"  \n").message == "the file is empty"
    assert fatal("json", b"[ ]").message == "the file contains no records"


def test_json_array_escaped_nul_is_rejected() -> None:
    result = run("json", '[{"text": "a\\u0000b"}, {"text": "ok"}]')
    assert [r.code for r in rejections(result)] == [REJECT_UNSTORABLE]
    assert [r.text for r in rows(result)] == ["ok"]


def test_json_array_streams() -> None:
    element = json.dumps({"text": "x" * 100}).encode()
    stream = CountingStream(b"[" + b",\n".join([element] * 30_000) + b"]")
    iterator = get_parser("json")(stream, ParseOptions())
    next(iterator)
    assert stream.high_water <= 1 << 20  # one read chunk of a 3 MB file


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


# --- Label Studio ------------------------------------------------------------------------------

LABEL_STUDIO_EXPORT = [
    {
        "id": 101,
        "data": {"text": "Paris is lovely.", "source": "blog"},
        "annotations": [
            {
                "id": 1,
                "completed_by": 3,
                "was_cancelled": False,
                "result": [
                    {
                        "from_name": "sentiment",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["Positive"]},
                    },
                    {
                        "from_name": "ner",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": 0, "end": 5, "text": "Paris", "labels": ["LOC"]},
                    },
                ],
            },
            {
                "id": 2,
                "was_cancelled": True,
                "result": [{"type": "choices", "value": {"choices": ["Negative"]}}],
            },
            {"id": 3, "result": [{"type": "choices", "value": {"choices": ["Positive"]}}]},
        ],
        "predictions": [{"model_version": "v1", "result": [{"value": {"choices": ["Neutral"]}}]}],
    },
    {"id": 102, "data": {"text": "No annotations yet."}},
    {"id": 103, "data": {"text": ""}},
    {"id": 104, "text": "no data object"},
]


def test_labelstudio_export() -> None:
    result = run("labelstudio", json.dumps(LABEL_STUDIO_EXPORT, indent=2))
    first, second = rows(result)
    assert (first.line, first.text, first.external_id) == (1, "Paris is lovely.", "101")
    assert first.weak_labels == ("Positive", "LOC")  # the cancelled "Negative" is not
    assert first.metadata["source"] == "blog"
    assert [a["id"] for a in first.metadata["annotations"]] == [1, 3]
    assert first.metadata["predictions"][0]["model_version"] == "v1"
    assert second == ParsedRow(2, "No annotations yet.", "102", {})
    assert [(r.line, r.code, r.external_id) for r in rejections(result)] == [
        (3, REJECT_EMPTY_TEXT, "103"),
        (4, REJECT_NOT_OBJECT, ""),
    ]


def test_labelstudio_custom_text_field() -> None:
    export = [{"id": 1, "data": {"sentence": "A.", "uid": "u-1"}}]
    result = run("labelstudio", json.dumps(export), text_field="sentence", id_field="uid")
    assert rows(result) == [ParsedRow(1, "A.", "u-1", {})]
    missing = run("labelstudio", json.dumps(export))
    assert rejections(missing)[0].reason == "no text field 'data.text'"
