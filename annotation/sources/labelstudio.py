"""Label Studio JSON export: an array of tasks, streamed like any JSON array.

A task looks like ``{"id": 7, "data": {"text": ...}, "annotations": [{"result": [...]}],
"predictions": [...]}``. The text comes from ``data[options.text_field]``; ``external_id`` is
the task ``id`` (or ``options.id_field`` looked up in ``data``); the other ``data`` keys become
metadata as in the JSON format. Annotations and predictions are carried through unchanged (minus
cancelled annotations) under ``metadata["annotations"]`` / ``metadata["predictions"]``, and the
class names an annotator chose (``value.choices``) or tagged spans with (``value.labels``)
become ``weak_labels``: a later step decides whether to trust them. Predictions never become
weak labels because they are another model's output, not a person's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from annotation.sources.base import (
    REJECT_NOT_OBJECT,
    REJECT_UNSTORABLE,
    ParsedRow,
    ParseOptions,
    Rejection,
    id_to_str,
    select_metadata,
    text_rejection,
    unstorable_reason,
)
from annotation.sources.json import JsonArrayReader

#: Result value keys whose lists name classes.
_CLASS_KEYS = ("choices", "labels", "rectanglelabels", "polygonlabels", "taxonomy")


def parse_labelstudio(stream: IO[bytes], options: ParseOptions) -> Iterator[ParsedRow | Rejection]:
    """Parse a Label Studio JSON export; ``line`` is the task's position in the array."""
    for number, task, has_escape in JsonArrayReader(stream).elements():
        yield task_to_row(task, number, options, check_storable=has_escape)


def task_to_row(
    task: Any, number: int, options: ParseOptions, *, check_storable: bool = True
) -> ParsedRow | Rejection:
    """One Label Studio task as a row (or a rejection)."""
    if not isinstance(task, dict):
        return Rejection(number, REJECT_NOT_OBJECT, "a task must be a JSON object")
    data = task.get("data")
    if not isinstance(data, dict):
        return Rejection(number, REJECT_NOT_OBJECT, "the task has no 'data' object")
    if options.id_field:
        external_id = id_to_str(data.get(options.id_field, task.get(options.id_field)))
    else:
        external_id = id_to_str(task.get("id"))
    text = data.get(options.text_field)
    rejected = text_rejection(number, text, f"data.{options.text_field}", external_id)
    if rejected:
        return rejected

    exclude = [options.text_field]
    if options.id_field:
        exclude.append(options.id_field)
    metadata = select_metadata(data, options, exclude)
    annotations = [
        a
        for a in task.get("annotations") or ()
        if isinstance(a, dict) and not a.get("was_cancelled")
    ]
    if annotations:
        metadata["annotations"] = annotations
    if task.get("predictions"):
        metadata["predictions"] = task["predictions"]
    if check_storable:
        reason = unstorable_reason(text) or unstorable_reason(metadata)
        if reason:
            return Rejection(number, REJECT_UNSTORABLE, reason, external_id)
    return ParsedRow(number, text, external_id, metadata, weak_labels=_class_names(annotations))


def _class_names(annotations: list[dict[str, Any]]) -> tuple[str, ...]:
    names: dict[str, None] = {}  # ordered set
    for annotation in annotations:
        for result in annotation.get("result") or ():
            value = result.get("value") if isinstance(result, dict) else None
            if not isinstance(value, dict):
                continue
            for key in _CLASS_KEYS:
                for name in value.get(key) or ():
                    # Taxonomy choices arrive as paths (["Animal", "Cat"]): keep the leaf.
                    if isinstance(name, list) and name:
                        name = name[-1]
                    if isinstance(name, str) and name:
                        names[name] = None
    return tuple(names)
