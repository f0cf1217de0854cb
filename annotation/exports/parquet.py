"""Parquet export, written in record batches (one row group each) at constant memory.

Not streamable over HTTP: the footer (schema, row-group index) comes last, so the file is
built once (release build, Celery task) and then served or hashed like any file.

Stable schema, whatever the rows contain:

=============  ==========================================  ========================
column         type                                        note
=============  ==========================================  ========================
id             int64
text           string
label          string, or list<string> for multi-label     chosen once, see below
label_rule     string
confidence     float64
split          string
metadata       string (JSON)                               nested values vary per row
judgements     string (JSON)                               so they are kept as JSON
=============  ==========================================  ========================

``label_type="auto"`` picks ``list<string>`` if any label in the *first batch* is a list,
else ``string``; a later list label under a ``string`` schema raises ValueError (pass
``label_type="list"`` for multi-label data). Under ``list<string>`` single labels are
wrapped as one-element lists. The JSON columns are listed in the schema metadata key
``dmops.json_columns`` so readers know to decode them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any

from ._common import dumps_str, resolve_fields

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

__all__ = ["CONTENT_TYPE", "EXTENSION", "LABEL_TYPES", "parquet_schema", "write_parquet"]

CONTENT_TYPE = "application/vnd.apache.parquet"
EXTENSION = "parquet"
LABEL_TYPES = ("auto", "string", "list")
JSON_COLUMNS = ("metadata", "judgements")

# Arrow type constructors by column (the label's depends on label_type).
_TYPES = {
    "id": "int64",
    "text": "string",
    "label_rule": "string",
    "confidence": "float64",
    "split": "string",
    "metadata": "string",
    "judgements": "string",
}


def parquet_schema(fields: Iterable[str] | None = None, label_type: str = "string") -> pa.Schema:
    """The Arrow schema for the selected ``fields`` (``label_type`` "string" or "list")."""
    if label_type not in ("string", "list"):
        raise ValueError(f"label_type must be 'string' or 'list' here, got {label_type!r}")
    # pyarrow is imported on first use: every process that loads the app imports this module
    # (the exporters' registry), and only release builds write Parquet.
    import pyarrow as pa

    selected = resolve_fields(fields)
    label = pa.list_(pa.string()) if label_type == "list" else pa.string()
    json_cols = ",".join(c for c in selected if c in JSON_COLUMNS)
    return pa.schema(
        [
            pa.field(name, label if name == "label" else getattr(pa, _TYPES[name])())
            for name in selected
        ],
        metadata={"dmops.json_columns": json_cols, "dmops.label_type": label_type},
    )


def _batches(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    it = iter(rows)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _label(value: Any, label_type: str) -> Any:
    if value is None:
        return None
    if label_type == "list":
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    if isinstance(value, list | tuple):
        raise ValueError(
            "a multi-label (list) label appeared after the schema was fixed as string; "
            "export with label_type='list'"
        )
    return str(value)


def _column(name: str, batch: list[Mapping[str, Any]], label_type: str) -> list[Any]:
    values = [row.get(name) for row in batch]
    if name == "label":
        return [_label(v, label_type) for v in values]
    if name in JSON_COLUMNS:
        return [None if v is None else dumps_str(v) for v in values]
    return values


def write_parquet(
    rows: Iterable[Mapping[str, Any]],
    path: str | PathLike[str],
    fields: Iterable[str] | None = None,
    batch_size: int = 50_000,
    label_type: str = "auto",
    compression: str = "zstd",
) -> int:
    """Write ``rows`` to ``path`` as Parquet; return the number of rows written.

    Memory holds one batch of ``batch_size`` rows at a time. Zero rows still produce a
    valid file with the schema (label column typed ``string`` under ``auto``).
    """
    selected = resolve_fields(fields)
    if label_type not in LABEL_TYPES:
        raise ValueError(f"label_type must be one of {list(LABEL_TYPES)}, got {label_type!r}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    written = 0
    try:
        for batch in _batches(rows, batch_size):
            if schema is None:
                if label_type == "auto":
                    multi = any(isinstance(r.get("label"), list | tuple) for r in batch)
                    label_type = "list" if multi else "string"
                schema = parquet_schema(selected, label_type)
                writer = pq.ParquetWriter(path, schema, compression=compression)
            arrays = [pa.array(_column(f.name, batch, label_type), type=f.type) for f in schema]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            written += len(batch)
        if writer is None:  # no rows: still a readable file with the schema
            schema = parquet_schema(selected, "list" if label_type == "list" else "string")
            writer = pq.ParquetWriter(path, schema, compression=compression)
    finally:
        if writer is not None:
            writer.close()
    return written
