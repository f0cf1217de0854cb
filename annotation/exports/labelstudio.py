"""Label Studio export: a streamed JSON array of tasks, importable into a Label Studio project.

Task shape (one per row)::

    {"id": 17,
     "data": {"text": "...", <metadata keys>, "dmops_id": 17},
     "meta": {"label_rule": "reviewed", "confidence": 0.9, "split": "train",
              "judgements": [...]},
     "annotations": [{"result": [{"from_name": "label", "to_name": "text",
                                  "type": "choices", "value": {"choices": ["pos"]}}]}]}

* ``data`` holds the text plus flattened metadata so curators can see and filter on it in
  the Data Manager, and ``dmops_id`` (our item id: Label Studio replaces the task ``id``
  with its own on import, but keeps ``data``). Metadata keys ``text`` and ``dmops_id`` are
  renamed ``meta_text``/``meta_dmops_id`` rather than overwrite ours.
* Our own fields that are not labelling inputs (label rule, confidence, split, individual
  judgements) go to the task ``meta`` object, which Label Studio keeps but does not show.
* The final label becomes one annotation with a ``choices`` result (a list label gives
  several choices). Individual judgements are *not* separate annotations: re-importing the
  file must give back one label per item, not count the consensus label as an extra vote.
* Unlabelled rows get ``"annotations": []``.

Use :func:`labelstudio_config` to create the matching labelling interface.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from xml.sax.saxutils import quoteattr

from ._common import CHUNK_SIZE, chunked, dumps, resolve_fields

__all__ = ["CONTENT_TYPE", "EXTENSION", "iter_labelstudio", "labelstudio_config", "to_task"]

CONTENT_TYPE = "application/json"
EXTENSION = "json"
FROM_NAME = "label"
TO_NAME = "text"
_META_FIELDS = ("label_rule", "confidence", "split", "judgements")
_RESERVED_DATA_KEYS = frozenset({"text", "dmops_id"})


def to_task(row: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Convert one export row to a Label Studio task, keeping only ``fields``."""
    task: dict[str, Any] = {}
    if "id" in fields:
        task["id"] = row.get("id")
    data: dict[str, Any] = {}
    if "text" in fields:
        data["text"] = row.get("text")
    if "metadata" in fields:
        for key, value in (row.get("metadata") or {}).items():
            data[f"meta_{key}" if key in _RESERVED_DATA_KEYS else str(key)] = value
    if "id" in fields:
        # Label Studio assigns its own task ids on import; data survives its round trip.
        data["dmops_id"] = row.get("id")
    task["data"] = data
    meta = {name: row.get(name) for name in _META_FIELDS if name in fields}
    if meta:
        task["meta"] = meta
    label = row.get("label") if "label" in fields else None
    if label is None or label == []:
        task["annotations"] = []
    else:
        choices = [str(v) for v in label] if isinstance(label, list | tuple) else [str(label)]
        result = {
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "choices",
            "value": {"choices": choices},
        }
        task["annotations"] = [{"result": [result]}]
    return task


def iter_labelstudio(
    rows: Iterable[Mapping[str, Any]],
    fields: Iterable[str] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Yield a JSON array of Label Studio tasks, one task per line, without materialising it."""
    selected = resolve_fields(fields)
    if "text" not in selected:
        raise ValueError("the Label Studio export needs the 'text' field")
    return chunked(_pieces(rows, selected), chunk_size)


def _pieces(rows: Iterable[Mapping[str, Any]], selected: tuple[str, ...]) -> Iterator[bytes]:
    yield b"["
    separator = b"\n"
    for row in rows:
        yield separator + dumps(to_task(row, selected))
        separator = b",\n"
    yield b"\n]\n"


def labelstudio_config(labels: Iterable[str], multiple: bool = False) -> str:
    """Labelling-interface XML whose names match the exported annotations."""
    choices = "\n".join(f"    <Choice value={quoteattr(str(label))}/>" for label in labels)
    kind = "multiple" if multiple else "single"
    return (
        "<View>\n"
        f'  <Text name="{TO_NAME}" value="$text"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="{kind}" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )
