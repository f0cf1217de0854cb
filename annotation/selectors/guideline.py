"""Reads of guideline versions: the current one, any two side by side, coverage of the schema,
and a skeleton drafted from the schema."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import zip_longest

from django.db.models import QuerySet
from django.http import Http404

from annotation.gates import labels_missing_from
from annotation.models import GuidelineVersion, SchemaVersion
from annotation.selectors.schema import schema_for_guideline
from dmops.models import Project
from dmops.selectors import project_for_member


def guideline_versions(project: Project) -> QuerySet[GuidelineVersion]:
    """Published versions, newest first."""
    return (
        GuidelineVersion.objects.filter(project=project)
        .select_related("created_by")
        .order_by("-number")
    )


def current_guideline(project: Project) -> GuidelineVersion | None:
    """The version annotators see: the highest number."""
    return guideline_versions(project).first()


def guideline_version(project: Project, number: int) -> GuidelineVersion:
    version = guideline_versions(project).filter(number=number).first()
    if version is None:
        raise Http404(f"No guideline v{number}.")
    return version


def guideline_version_for_member(user, version_id: int) -> tuple[GuidelineVersion, str]:
    """A version by id and the user's role: 404 if missing, 403 if not a member."""
    version = GuidelineVersion.objects.select_related("created_by").filter(pk=version_id).first()
    if version is None:
        raise Http404("No such guideline version.")
    _, role = project_for_member(user, version.project_id)
    return version, role


@dataclass(frozen=True)
class Coverage:
    """Which labels of the schema a guideline body never mentions."""

    schema: SchemaVersion | None
    missing: list[str]

    @property
    def complete(self) -> bool:
        return self.schema is not None and self.schema.is_final and not self.missing


def guideline_coverage(project: Project, body: str) -> Coverage:
    """Coverage of the final schema (or, before one exists, the latest draft) by *body*, with
    the same rule the step-5 gate applies."""
    schema = schema_for_guideline(project)
    if schema is None:
        return Coverage(None, [])
    names = [(label.key, label.name) for label in schema.labels.all()]
    return Coverage(schema, labels_missing_from(body, names))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def guideline_skeleton(project: Project) -> str:
    """A Markdown draft with one ``## <label name>`` section per label of the final (or latest)
    schema, carrying its description, question and examples."""
    schema = schema_for_guideline(project)
    lines = [f"# {project.name}: annotation guideline", ""]
    if schema is None:
        return "\n".join([*lines, "No schema yet: design one in step 4 first.", ""])
    lines += ["## Task", "", f"{schema.get_task_type_display()}."]
    if schema.question:
        lines += ["", f"Question: **{_one_line(schema.question)}**"]
    lines.append("")
    for label in schema.labels.all():
        lines += [f"## {_one_line(label.name)}", ""]
        meta = [f"Key: `{label.key}`"]
        if label.hotkey:
            meta.append(f"hotkey: `{label.hotkey}`")
        if label.category:
            meta.append(f"category: {label.category}")
        lines += ["; ".join(meta) + ".", ""]
        if label.question:
            lines += [f"Question: **{_one_line(label.question)}**", ""]
        lines += [label.description.strip() or "_Describe when this label applies._", ""]
        for title, examples in (
            ("Positive examples", label.positive_examples),
            ("Negative examples", label.negative_examples),
        ):
            lines += [f"**{title}**", ""]
            lines += [f"- {_one_line(e)}" for e in examples] or ["- _Add an example._"]
            lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff: line numbers and texts (None where a side has no line)."""

    kind: str  # equal | replace | delete | insert
    left_no: int | None
    left: str | None
    right_no: int | None
    right: str | None


def guideline_diff(a: GuidelineVersion, b: GuidelineVersion) -> list[DiffRow]:
    """A line diff of two versions, paired for a two-column table (templates escape text)."""
    left, right = a.body.splitlines(), b.body.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for i, j in zip_longest(range(i1, i2), range(j1, j2)):
            kind = tag
            if tag == "replace" and (i is None or j is None):
                kind = "delete" if j is None else "insert"
            rows.append(
                DiffRow(
                    kind=kind,
                    left_no=None if i is None else i + 1,
                    left=None if i is None else left[i],
                    right_no=None if j is None else j + 1,
                    right=None if j is None else right[j],
                )
            )
    return rows


def guideline_unified_diff(a: GuidelineVersion, b: GuidelineVersion) -> str:
    lines = difflib.unified_diff(
        a.body.splitlines(), b.body.splitlines(), f"v{a.number}", f"v{b.number}", lineterm=""
    )
    return "\n".join(lines)
