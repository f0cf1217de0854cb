"""Import parsers for the JSON formats: JSON Lines, JSON arrays and Label Studio exports
(annotation.sources). Shared helpers live in test_sources.py."""

from __future__ import annotations

import io
import json

import pytest

from annotation.sources import ImportFormatError, ParsedRow, ParseOptions, get_parser
from annotation.sources.base import (
    REJECT_BAD_TEXT_TYPE,
    REJECT_EMPTY_TEXT,
    REJECT_MISSING_TEXT,
    REJECT_NOT_OBJECT,
    REJECT_UNSTORABLE,
)
from annotation.sources.json import JsonArrayReader
from tests.annotation.test_sources import CountingStream, fatal, rejections, rows, run

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


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_nan_and_infinity_become_null(fmt: str) -> None:
    record = '{"text": "Not numbers.", "a": NaN, "b": -Infinity}'
    data = f"[{record}]" if fmt == "json" else record + "\n"
    assert rows(run(fmt, data))[0].metadata == {"a": None, "b": None}
