"""Pure-Python tests for annotation.exports (no Django, no database)."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import itertools
import json
from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotation.exports import EXPORTERS, ROW_FIELDS, get_exporter, sha256_of_chunks
from annotation.exports._common import dumps, dumps_stdlib
from annotation.exports.csv import encode_row, iter_csv, unescape_cell
from annotation.exports.jsonl import iter_jsonl
from annotation.exports.labelstudio import iter_labelstudio, labelstudio_config
from annotation.exports.parquet import write_parquet

ROWS = [
    {
        "id": 1,
        "text": 'He said "hi", then left.\nNew line, comma; émoji 🎉 and 中文',
        "label": "positive",
        "label_rule": "reviewed",
        "confidence": 0.875,
        "split": "train",
        "metadata": {"source": "wiki", "tags": ["a", "b"], "nested": {"k": 1}},
        "judgements": [
            {"annotator": "a1", "answer": "positive"},
            {"annotator": "a2", "answer": "negative"},
        ],
    },
    {
        "id": 2,
        "text": 'Plain\r\nCRLF text with a trailing quote"',
        "label": ["x", "y"],
        "label_rule": "aggregated",
        "confidence": None,
        "split": "dev",
        "metadata": {},
        "judgements": [],
    },
    {
        "id": 3,
        "text": "",
        "label": None,
        "label_rule": None,
        "confidence": 1.0,
        "split": None,
        "metadata": {"source": "other"},
        # no "judgements" key at all: optional in the row shape
    },
]


def _expected(row: dict, fields=ROW_FIELDS) -> dict:
    return {f: row.get(f) for f in fields}


def _rows(n: int) -> Iterator[dict]:
    for i in range(n):
        yield {**ROWS[i % 2], "id": i}


def _endless(pulled: list[int]) -> Iterator[dict]:
    for i in itertools.count():
        pulled[0] = i + 1
        yield {**ROWS[0], "id": i}


# ----------------------------------------------------------------------- round trips


def test_jsonl_round_trip() -> None:
    data = b"".join(iter_jsonl(ROWS))
    lines = data.decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [_expected(r) for r in ROWS]
    assert "émoji 🎉 and 中文".encode() in data  # ensure_ascii off


def test_csv_round_trip_types_and_nesting() -> None:
    data = b"".join(iter_csv(ROWS))
    assert data.startswith(b"id,text,label,")
    assert b"\r\n" in data  # RFC 4180 record separator
    records = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(records) == 3
    first, second, third = records
    assert first["text"] == ROWS[0]["text"]  # quotes, comma, newline, unicode survive
    assert second["text"] == ROWS[1]["text"]  # CRLF inside a cell survives
    assert int(first["id"]) == 1 and float(first["confidence"]) == 0.875
    assert first["label"] == "positive" and json.loads(second["label"]) == ["x", "y"]
    assert json.loads(first["metadata"]) == ROWS[0]["metadata"]
    assert json.loads(first["judgements"]) == ROWS[0]["judgements"]
    assert second["confidence"] == "" and third["label"] == "" and third["judgements"] == ""


@pytest.mark.parametrize(
    "cells",
    [
        [1, "plain", None, 0.1, True],
        ['say "hi"', "a,b", "line\nbreak", "cr\rhere", "crlf\r\nx", " padded "],
        [""],
        [None],
        ["", None, ""],
        ["émoji 🎉", "tab\there", "semi;colon", "'single'"],
    ],
)
def test_csv_encoding_matches_stdlib_writer(cells: list) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    assert encode_row(cells) == buffer.getvalue()


@pytest.mark.parametrize(
    "text",
    [
        "=SUM(A1:A9)",
        "+1+1",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1)",
        "\tindented",
        "\rreturn",
        '=HYPERLINK("http://x","click")',
    ],
)
def test_csv_cells_that_look_like_formulas_are_escaped(text: str) -> None:
    row = {"id": 7, "text": text, "label": text, "metadata": {"note": text}}
    data = b"".join(iter_csv([row], fields=["id", "text", "label", "metadata", "confidence"]))
    (record,) = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    assert record["text"] == record["label"] == "'" + text  # a spreadsheet shows it as text
    assert unescape_cell(record["text"]) == text
    assert json.loads(record["metadata"]) == {"note": text}  # JSON cells start with {


def test_csv_fast_path_encodes_every_kind_of_cell_like_the_reference() -> None:
    from django.utils.safestring import mark_safe

    from annotation.exports.csv import _cell

    cells = [
        None,
        0,
        -1.5,
        True,
        "",
        "plain",
        'q"uote',
        "a,b",
        "l\nf",
        "=1",
        "-x",
        "@y",
        "\tz",
        mark_safe("=safe,str"),
        {"k": [1, "=2"]},
        ["a", "b"],
        "émoji 🎉",
    ]
    assert encode_row(cells) == ",".join(map(_cell, cells)) + "\r\n"
    assert encode_row([""]) == '""\r\n'


def test_csv_escaping_leaves_other_cells_alone() -> None:
    row = {"id": -3, "text": "a = b - c", "label": "'quoted'", "confidence": -0.5}
    data = b"".join(iter_csv([row], fields=["id", "text", "label", "confidence"]))
    assert data.splitlines()[1] == b"-3,a = b - c,'quoted',-0.5"
    assert unescape_cell("'quoted'") == "'quoted'"
    jsonl = b"".join(iter_jsonl([{"id": 1, "text": "=1+1"}], fields=["id", "text"]))
    assert json.loads(jsonl)["text"] == "=1+1"  # JSONL is not a spreadsheet format


def test_csv_bom_option() -> None:
    data = b"".join(iter_csv(ROWS, bom=True, chunk_size=10))
    assert data.startswith("\ufeff".encode()) and data.count("\ufeff".encode()) == 1


def test_parquet_round_trip(tmp_path) -> None:
    path = tmp_path / "out.parquet"
    assert write_parquet(ROWS, path, batch_size=2) == 3
    pf = pq.ParquetFile(path)
    assert pf.num_row_groups == 2  # one row group per batch: constant memory
    table = pf.read()
    assert table.schema.field("label").type == pa.list_(pa.string())
    assert table.schema.metadata[b"dmops.json_columns"] == b"metadata,judgements"
    got = table.to_pylist()
    assert [r["text"] for r in got] == [r["text"] for r in ROWS]
    assert [r["label"] for r in got] == [["positive"], ["x", "y"], None]
    assert [r["confidence"] for r in got] == [0.875, None, 1.0]
    assert json.loads(got[0]["metadata"]) == ROWS[0]["metadata"]
    assert json.loads(got[0]["judgements"]) == ROWS[0]["judgements"]
    assert got[2]["judgements"] is None


def test_parquet_string_labels_and_schema_guard(tmp_path) -> None:
    single = [{**ROWS[0], "id": i} for i in range(3)]
    path = tmp_path / "single.parquet"
    write_parquet(single, path, fields=["id", "label"])
    table = pq.read_table(path)
    assert table.column_names == ["id", "label"]
    assert str(table.schema.field("label").type) == "string"
    late_multi = [ROWS[0], ROWS[1]]
    with pytest.raises(ValueError, match="label_type='list'"):
        write_parquet(late_multi, tmp_path / "bad.parquet", batch_size=1)
    with pytest.raises(ValueError, match="label_type must be"):
        write_parquet(single, tmp_path / "x.parquet", label_type="set")


def test_parquet_empty_input_is_readable(tmp_path) -> None:
    path = tmp_path / "empty.parquet"
    assert write_parquet(iter(()), path) == 0
    assert pq.read_table(path).num_rows == 0


def test_labelstudio_round_trip() -> None:
    tasks = json.loads(b"".join(iter_labelstudio(ROWS)))
    assert [t["id"] for t in tasks] == [1, 2, 3]
    first, second, third = tasks
    assert first["data"]["text"] == ROWS[0]["text"]
    assert first["data"]["source"] == "wiki" and first["data"]["nested"] == {"k": 1}
    assert first["data"]["dmops_id"] == 1
    (result,) = first["annotations"][0]["result"]
    assert result == {
        "from_name": "label",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": ["positive"]},
    }
    assert second["annotations"][0]["result"][0]["value"]["choices"] == ["x", "y"]
    assert third["annotations"] == []
    assert first["meta"]["judgements"] == ROWS[0]["judgements"]
    assert first["meta"]["split"] == "train"


def test_labelstudio_metadata_cannot_clobber_text() -> None:
    row = {"id": 9, "text": "real", "label": "a", "metadata": {"text": "shadow", "dmops_id": 1}}
    (task,) = json.loads(b"".join(iter_labelstudio([row])))
    assert task["data"] == {
        "text": "real",
        "meta_text": "shadow",
        "meta_dmops_id": 1,
        "dmops_id": 9,
    }


def test_labelstudio_empty_and_config() -> None:
    assert json.loads(b"".join(iter_labelstudio([]))) == []
    xml = labelstudio_config(["pos", 'ne"g'], multiple=True)
    assert '<Choices name="label" toName="text" choice="multiple"' in xml
    assert "<Choice value='ne\"g'/>" in xml
    with pytest.raises(ValueError, match="'text' field"):
        iter_labelstudio(ROWS, fields=["id", "label"])


def test_json_fallback_matches_orjson_conventions() -> None:
    obj = {
        "text": 'é 🎉 "q"\n',
        "n": [1, 2.5, None, float("nan")],
        3: {"d": Decimal("1.5"), "s": {1}},
        "when": datetime.date(2020, 5, 1),
    }
    expected = {
        "text": 'é 🎉 "q"\n',
        "n": [1, 2.5, None, None],
        "3": {"d": 1.5, "s": [1]},
        "when": "2020-05-01",
    }
    assert json.loads(dumps(obj)) == json.loads(dumps_stdlib(obj)) == expected
    assert "é 🎉".encode() in dumps_stdlib(obj)
    with pytest.raises(TypeError):
        dumps_stdlib({"x": object()})


# ---------------------------------------------------------------------------- fields


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_fields_selection(name: str) -> None:
    exporter = get_exporter(name)
    data = b"".join(exporter.iter_bytes(ROWS, ["text", "id"]))
    if name == "jsonl":
        assert json.loads(data.splitlines()[0]) == {"text": ROWS[0]["text"], "id": 1}
    elif name == "csv":
        header = next(csv.reader(io.StringIO(data.decode(), newline="")))
        assert header == ["text", "id"]
    elif name == "parquet":
        assert pq.read_table(io.BytesIO(data)).column_names == ["text", "id"]
    else:
        assert json.loads(data)[0] == {
            "id": 1,
            "data": {"text": ROWS[0]["text"], "dmops_id": 1},
            "annotations": [],
        }


@pytest.mark.parametrize("name", sorted(EXPORTERS))
@pytest.mark.parametrize(
    ("fields", "message"),
    [(["id", "txt"], "unknown export field"), (["id", "id"], "duplicate"), ("text", "list")],
)
def test_bad_fields_raise_before_streaming(name: str, fields, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_exporter(name).iter_bytes(ROWS, fields)


def test_registry() -> None:
    assert set(EXPORTERS) == {"jsonl", "csv", "parquet", "labelstudio"}
    assert get_exporter("parquet").streamable is False
    assert get_exporter("jsonl").content_type == "application/x-ndjson"
    assert get_exporter("csv").filename("train") == "train.csv"
    with pytest.raises(ValueError, match=r"valid formats: \['csv', 'jsonl', 'labelstudio'"):
        get_exporter("xlsx")


# ------------------------------------------------------------------ streaming & chunks


@pytest.mark.parametrize("name", ["jsonl", "csv", "labelstudio"])
def test_streaming_is_lazy(name: str) -> None:
    pulled = [0]
    chunk = next(get_exporter(name).iter_bytes(_endless(pulled)))
    assert len(chunk) >= 64 * 1024
    # Only as many rows as fit in one chunk were pulled from the endless source.
    assert pulled[0] < 64 * 1024 // 100 + 2


@pytest.mark.parametrize("name", ["jsonl", "csv", "labelstudio"])
def test_chunk_sizes(name: str) -> None:
    chunks = list(get_exporter(name).iter_bytes(_rows(2000), None, 4096))
    assert len(chunks) > 10
    max_row = 1024  # generous bound on one encoded row
    assert all(4096 <= len(c) < 4096 + max_row for c in chunks[:-1])
    assert 0 < len(chunks[-1]) < 4096 + max_row


def test_checksum_matches_bytes() -> None:
    stream = sha256_of_chunks(iter_jsonl(_rows(5000), chunk_size=1000))
    with pytest.raises(RuntimeError):
        stream.result()
    data = b"".join(stream)
    assert stream.result() == (hashlib.sha256(data).hexdigest(), len(data))


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_write_file_reports_checksum(name: str, tmp_path) -> None:
    exporter = get_exporter(name)
    path = tmp_path / exporter.filename("release")
    result = exporter.write_file(_rows(100), path, fields=["id", "text", "label"])
    data = path.read_bytes()
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.byte_count == len(data) and result.row_count == 100
    assert not (tmp_path / (path.name + ".part")).exists()


def test_write_file_failure_leaves_no_file(tmp_path) -> None:
    def broken():
        yield ROWS[0]
        raise RuntimeError("db went away")

    path = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        get_exporter("jsonl").write_file(broken(), path)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ Hugging Face datasets


def test_datasets_round_trip(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip(
        "datasets", reason="Hugging Face `datasets` is not installed (optional dependency)"
    )
    # One label type throughout: a JSON reader cannot mix string and list in a column.
    rows = [{**ROWS[0], "id": i, "split": "train" if i % 2 else "test"} for i in range(50)]
    fields = ["id", "text", "label", "confidence", "split", "metadata"]
    get_exporter("jsonl").write_file(rows, tmp_path / "train.jsonl", fields)
    get_exporter("parquet").write_file(rows, tmp_path / "train.parquet", fields)
    cache = str(tmp_path / "hf-cache")
    from_json = datasets.load_dataset(
        "json", data_files={"train": str(tmp_path / "train.jsonl")}, cache_dir=cache
    )["train"]
    from_parquet = datasets.load_dataset(
        "parquet", data_files={"train": str(tmp_path / "train.parquet")}, cache_dir=cache
    )["train"]
    assert from_json.num_rows == from_parquet.num_rows == 50
    assert from_json["text"] == from_parquet["text"] == [r["text"] for r in rows]
    assert from_json["id"] == from_parquet["id"] == list(range(50))
    assert from_json[0]["metadata"]["nested"] == {"k": 1}
    assert json.loads(from_parquet[0]["metadata"]) == ROWS[0]["metadata"]
    assert from_parquet["label"] == ["positive"] * 50
