"""Step 4: design the labelling schema — versions, labels, finalising, and the WikiSQE preset.

A schema version is a draft until a manager marks it final. A frozen version (see
:func:`schema_version_is_frozen`) is never changed again: edits go to a new draft version,
made with :func:`schema_version_new_from`, and the old one stays readable.

Label counts (at least 2 labels for single, multi and pairwise, at least 1 for binary) are
checked when a version is marked final and when a whole label set is given at once, so a draft
can be built up one label at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import Label, SchemaVersion
from dmops.errors import DomainError
from dmops.models import Project

TaskType = SchemaVersion.TaskType
#: Keys the annotation workbench binds whatever the task: skip, undo, ask a question, the
#: guideline panel. A label hotkey may not shadow them.
WORKBENCH_HOTKEYS = frozenset("szqg")
#: The answer keys it binds itself for some tasks: yes, no, unsure; A, B, tie.
ANSWER_HOTKEYS = {TaskType.BINARY: frozenset("ynu"), TaskType.PAIRWISE: frozenset("abt")}
MIN_LABELS = {TaskType.BINARY: 1, TaskType.SINGLE: 2, TaskType.MULTI: 2, TaskType.PAIRWISE: 2}
KEY_PATTERN = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
KEY_MAX = Label._meta.get_field("key").max_length
LABEL_FIELDS = (
    "key",
    "name",
    "description",
    "category",
    "hotkey",
    "question",
    "positive_examples",
    "negative_examples",
    "value",
)
VERSION_FIELDS = ("task_type", "question", "note", "label_scale")


def schema_version_is_frozen(version: SchemaVersion) -> bool:
    """A version is frozen once it is final. (When annotations exist, a later issue adds
    "or annotations were made against it" here; every edit path asks this one function.)"""
    return version.is_final


def _require_manager(project: Project, user, action: str) -> None:
    if not project.is_manager(user):
        raise PermissionDenied(f"Only a project manager can {action}.")


def _require_editable(version: SchemaVersion) -> None:
    if schema_version_is_frozen(version):
        raise DomainError(
            f"Schema v{version.number} is frozen, create a new version to change it "
            "(it is final; old versions stay readable)."
        )


def _next_number(project: Project) -> int:
    # Lock the project row so two managers creating versions at once get distinct numbers.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    current = SchemaVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"]
    return (current or 0) + 1


def _examples(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, Iterable):
        raise DomainError({field: "Examples must be a list of texts."})
    return [str(v).strip() for v in value if str(v).strip()]


def _number(value: Any, key: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DomainError({"value": f"The value of {key or 'a label'} must be a number."}) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise DomainError({"value": f"The value of {key or 'a label'} must be a finite number."})
    return number


def _clean_label(data: Mapping[str, Any]) -> dict[str, Any]:
    """One label's fields, normalised, with the per-label rules applied."""
    unknown = set(data) - set(LABEL_FIELDS) - {"order"}
    if unknown:
        raise DomainError(f"Unknown label fields: {', '.join(sorted(unknown))}.")
    key = str(data.get("key") or "").strip()
    name = str(data.get("name") or "").strip()
    hotkey = str(data.get("hotkey") or "")
    errors: dict[str, str] = {}
    if not key:
        errors["key"] = "A label needs a key."
    elif len(key) > KEY_MAX or not KEY_PATTERN.match(key):
        errors["key"] = (
            f"Label key {key!r} must be slug-like: lower-case letters, digits, and single "
            f"hyphens or underscores between them, at most {KEY_MAX} characters."
        )
    if not name:
        errors["name"] = f"Label {key or '?'} needs a display name."
    elif len(name) > 200:
        errors["name"] = f"The display name of {key or 'a label'} is at most 200 characters."
    if hotkey and (len(hotkey) != 1 or hotkey.isspace() or not hotkey.isprintable()):
        errors["hotkey"] = f"Hotkey {hotkey!r} of {key or 'a label'} must be a single character."
    if errors:
        raise DomainError(errors)
    cleaned = {
        "key": key,
        "name": name,
        "description": str(data.get("description") or "").strip(),
        "category": str(data.get("category") or "").strip(),
        # Hotkeys are case-insensitive: the workbench must not tell "A" from shift-"a".
        "hotkey": hotkey.lower(),
        "question": str(data.get("question") or "").strip(),
        "positive_examples": _examples(data.get("positive_examples"), "positive_examples"),
        "negative_examples": _examples(data.get("negative_examples"), "negative_examples"),
        "value": _number(data.get("value"), key),
    }
    if len(cleaned["category"]) > 100:
        raise DomainError({"category": "A category name is at most 100 characters."})
    if len(cleaned["question"]) > 500:
        raise DomainError({"question": "A label's question is at most 500 characters."})
    return cleaned


def reserved_hotkeys(task_type: str) -> frozenset[str]:
    """The keys the workbench binds for this task type, which no label hotkey may take."""
    return WORKBENCH_HOTKEYS | ANSWER_HOTKEYS.get(task_type, frozenset())


def _check_label_set(task_type: str, labels: Sequence[Mapping[str, Any]]) -> None:
    """Rules across the labels of one version: unique keys and hotkeys, reserved keys."""
    keys: set[str] = set()
    hotkeys: dict[str, str] = {}
    for label in labels:
        if label["key"] in keys:
            raise DomainError({"key": f"Label key {label['key']!r} is used twice."})
        keys.add(label["key"])
        hotkey = label["hotkey"]
        if not hotkey:
            continue
        if hotkey in hotkeys:
            raise DomainError(
                {"hotkey": f"Hotkey {hotkey!r} is used by {hotkeys[hotkey]} and {label['key']}."}
            )
        reserved = reserved_hotkeys(task_type)
        if hotkey in reserved:
            raise DomainError(
                {
                    "hotkey": f"Hotkey {hotkey!r} of {label['key']} is reserved by the "
                    f"workbench for {TaskType(task_type).label.lower()} tasks "
                    f"({', '.join(sorted(reserved))})."
                }
            )
        hotkeys[hotkey] = label["key"]


def _check_label_count(task_type: str, count: int) -> None:
    minimum = MIN_LABELS[TaskType(task_type)]
    if count < minimum:
        kind = TaskType(task_type).label.split(" (")[0].lower()
        raise DomainError(
            f"A {kind} schema needs at least {minimum} label{'s' if minimum > 1 else ''}; "
            f"it has {count}."
        )


def _clean_version_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(VERSION_FIELDS)
    if unknown:
        raise DomainError(f"Unknown schema fields: {', '.join(sorted(unknown))}.")
    cleaned = dict(fields)
    if "task_type" in cleaned and cleaned["task_type"] not in TaskType.values:
        raise DomainError(
            {
                "task_type": f"Unknown task type {cleaned['task_type']!r}; use one of "
                f"{', '.join(TaskType.values)}."
            }
        )
    if "question" in cleaned:
        cleaned["question"] = str(cleaned["question"] or "").strip()
        if len(cleaned["question"]) > 500:
            raise DomainError({"question": "The question is at most 500 characters."})
    if "note" in cleaned:
        cleaned["note"] = str(cleaned["note"] or "").strip()
    scale = cleaned.get("label_scale")
    if scale is not None and scale not in SchemaVersion.LabelScale.values:
        known = ", ".join(SchemaVersion.LabelScale.values)
        raise DomainError({"label_scale": f"Unknown scale {scale!r}; use one of {known}."})
    return cleaned


def _check_scale(task_type: str, scale: str, values: Sequence[float | None]) -> None:
    """Ordered scales are for single-label schemas; an interval scale numbers every label
    or none (then positions are the numbers), with no two labels on the same number."""
    if scale == SchemaVersion.LabelScale.NOMINAL:
        return
    if task_type != TaskType.SINGLE:
        raise DomainError(
            {"label_scale": "Only single-label schemas have ordered labels; use nominal."}
        )
    given = [v for v in values if v is not None]
    if scale == SchemaVersion.LabelScale.INTERVAL and given:
        if len(given) != len(values):
            raise DomainError({"value": "On an interval scale give every label a value, or none."})
        if len(set(given)) != len(given):
            raise DomainError({"value": "Two labels have the same value."})


def _existing(version: SchemaVersion, *, excluding: Label | None = None) -> list[dict]:
    rows = version.labels.all()
    if excluding is not None:
        rows = rows.exclude(pk=excluding.pk)
    return list(rows.values("key", "hotkey"))


def _write_labels(version: SchemaVersion, labels: Sequence[Mapping[str, Any]]) -> None:
    Label.objects.bulk_create(
        Label(schema_version=version, order=i, **label) for i, label in enumerate(labels, 1)
    )


@transaction.atomic
def schema_version_create(
    *,
    project: Project,
    by,
    task_type: str,
    question: str = "",
    note: str = "",
    label_scale: str = SchemaVersion.LabelScale.NOMINAL,
    labels: Sequence[Mapping[str, Any]] | None = None,
) -> SchemaVersion:
    """Create the next draft version. Managers only. A label set given here must satisfy every
    label rule, including the minimum count for the task type; with no labels the draft starts
    empty and labels are added one by one."""
    _require_manager(project, by, "design the schema")
    fields = _clean_version_fields(
        {"task_type": task_type, "question": question, "note": note, "label_scale": label_scale}
    )
    cleaned = [_clean_label(label) for label in labels or []]
    _check_label_set(fields["task_type"], cleaned)
    if labels:
        _check_label_count(fields["task_type"], len(cleaned))
    version = SchemaVersion.objects.create(
        project=project, number=_next_number(project), created_by=by, **fields
    )
    _write_labels(version, cleaned)
    return version


@transaction.atomic
def schema_version_update(
    *, version: SchemaVersion, by, labels: Sequence[Mapping[str, Any]] | None = None, **fields
) -> SchemaVersion:
    """Change a draft's task type, question or note, and optionally replace its whole label
    set. Managers only; a frozen version is refused. Switching to binary re-checks hotkeys
    against the workbench's reserved keys."""
    _require_manager(version.project, by, "edit the schema")
    version = SchemaVersion.objects.select_for_update().get(pk=version.pk)
    _require_editable(version)
    cleaned_fields = _clean_version_fields(fields)
    task_type = cleaned_fields.get("task_type", version.task_type)
    if labels is not None:
        cleaned = [_clean_label(label) for label in labels]
        _check_label_set(task_type, cleaned)
        _check_label_count(task_type, len(cleaned))
    else:
        _check_label_set(task_type, _existing(version))
    if cleaned_fields:
        for name, value in cleaned_fields.items():
            setattr(version, name, value)
        version.save(update_fields=list(cleaned_fields))
    if labels is not None:
        version.labels.all().delete()
        _write_labels(version, cleaned)
    return version


@transaction.atomic
def schema_version_new_from(*, version: SchemaVersion, by, note: str = "") -> SchemaVersion:
    """Start a new draft from any version, copying its task type, question and labels. This is
    how a frozen version is changed: the old one stays as it was."""
    project = version.project
    _require_manager(project, by, "create a schema version")
    copy = SchemaVersion.objects.create(
        project=project,
        number=_next_number(project),
        task_type=version.task_type,
        label_scale=version.label_scale,
        question=version.question,
        note=note.strip() or f"Copied from v{version.number}.",
        created_by=by,
    )
    rows = version.labels.order_by("order", "pk").values(*LABEL_FIELDS)
    _write_labels(copy, list(rows))
    return copy


@transaction.atomic
def schema_version_finalise(*, version: SchemaVersion, by) -> SchemaVersion:
    """Mark a draft final, which freezes it. It needs at least one label and the minimum for
    its task type, every label rule must hold, and a binary schema must ask a question: on the
    version, or on every label."""
    _require_manager(version.project, by, "mark a schema final")
    version = SchemaVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_final:
        raise DomainError(f"Schema v{version.number} is already final.")
    labels = list(version.labels.values("key", "hotkey", "question", "value"))
    _check_label_count(version.task_type, len(labels))
    _check_label_set(version.task_type, labels)
    _check_scale(version.task_type, version.label_scale, [label["value"] for label in labels])
    if version.task_type == TaskType.BINARY and not version.question.strip():
        unasked = [label["key"] for label in labels if not label["question"].strip()]
        if unasked:
            raise DomainError(
                {
                    "question": "A binary schema asks a yes/no question: set the schema's "
                    f"question or give every label one (missing: {', '.join(unasked[:10])})."
                }
            )
    version.is_final, version.finalised_by, version.finalised_at = True, by, timezone.now()
    version.save(update_fields=["is_final", "finalised_by", "finalised_at"])
    return version


@transaction.atomic
def label_add(*, version: SchemaVersion, by, **fields) -> Label:
    """Add a label to a draft. Its key and hotkey must be unique in the version."""
    _require_manager(version.project, by, "edit the schema")
    version = SchemaVersion.objects.select_for_update().get(pk=version.pk)
    _require_editable(version)
    cleaned = _clean_label(fields)
    _check_label_set(version.task_type, [*_existing(version), cleaned])
    order = (version.labels.aggregate(n=Max("order"))["n"] or 0) + 1
    return Label.objects.create(schema_version=version, order=order, **cleaned)


@transaction.atomic
def label_update(*, label: Label, by, **fields) -> Label:
    """Change a label of a draft; fields not given keep their value."""
    version = label.schema_version
    _require_manager(version.project, by, "edit the schema")
    version = SchemaVersion.objects.select_for_update().get(pk=version.pk)
    _require_editable(version)
    merged = {name: getattr(label, name) for name in LABEL_FIELDS}
    merged.update(fields)
    cleaned = _clean_label(merged)
    _check_label_set(version.task_type, [*_existing(version, excluding=label), cleaned])
    for name, value in cleaned.items():
        setattr(label, name, value)
    label.save()
    return label


@transaction.atomic
def label_delete(*, label: Label, by) -> None:
    """Remove a label from a draft; the others close up the gap in the order."""
    version = label.schema_version
    _require_manager(version.project, by, "edit the schema")
    version = SchemaVersion.objects.select_for_update().get(pk=version.pk)
    _require_editable(version)
    label.delete()
    rest = list(version.labels.order_by("order", "pk"))
    for position, other in enumerate(rest, 1):
        other.order = position
    Label.objects.bulk_update(rest, ["order"])
