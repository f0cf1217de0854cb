"""Step 4 presets: schema drafts built from the WikiSQE taxonomy (153 inline-cleanup labels in
5 categories), as binary verification questions or one multi-label task."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils.text import slugify

from annotation import wikisqe
from annotation.models import SchemaVersion
from annotation.services.schema import KEY_MAX, TaskType, schema_version_create
from dmops.errors import DomainError
from dmops.models import Project


def wikisqe_key(name: str) -> str:
    """A slug key for a WikiSQE label name ("who?" → "who"), within the key length."""
    return slugify(name)[:KEY_MAX].strip("-")


def wikisqe_selection(
    *, top_n: int | None = None, categories: Sequence[str] = (), names: Sequence[str] = ()
) -> list[wikisqe.Label]:
    """Which taxonomy labels a preset takes, most frequent first: the named labels; or those
    of the chosen categories (all five if none), cut to the *top_n* most frequent."""
    taxonomy = wikisqe.load_taxonomy()
    if names and (top_n or categories):
        raise DomainError("Choose either a list of labels, or top-N and/or categories.")
    unknown_categories = sorted(set(categories) - set(taxonomy.categories))
    if unknown_categories:
        raise DomainError({"categories": f"Unknown categories: {', '.join(unknown_categories)}."})
    if top_n is not None and top_n < 1:
        raise DomainError({"top_n": "Top-N must be at least 1."})
    ranked = taxonomy.top_labels(len(taxonomy))
    if names:
        unknown = [n for n in names if n not in taxonomy]
        if unknown:
            raise DomainError({"labels": f"Not WikiSQE labels: {', '.join(unknown)}."})
        chosen = set(names)
        return [label for label in ranked if label.name in chosen]
    pool = [label for label in ranked if not categories or label.category in categories]
    return pool[:top_n] if top_n else pool


@transaction.atomic
def schema_apply_wikisqe(
    *,
    project: Project,
    by,
    top_n: int | None = None,
    categories: Sequence[str] = (),
    names: Sequence[str] = (),
    binary: bool = True,
) -> SchemaVersion:
    """Create a new draft from the WikiSQE taxonomy (153 labels in 5 categories), or a subset
    of it (see :func:`wikisqe_selection`). With *binary*, the task is binary verification and
    each label carries its closed-ended question; otherwise it is multi-label, as a sentence
    can carry several cleanup templates."""
    chosen = wikisqe_selection(top_n=top_n, categories=categories, names=names)
    task_type = TaskType.BINARY if binary else TaskType.MULTI
    labels = [
        {
            "key": wikisqe_key(label.name),
            "name": label.name,
            "category": label.category,
            "description": (
                f"WikiSQE label from the inline template {{{{{label.template}}}}}"
                if label.template
                else "WikiSQE label"
            )
            + f"; {label.frequency:,} sentences in WikiSQE.",
            "question": wikisqe.verification_question(label) if binary else "",
        }
        for label in chosen
    ]
    if names:
        picked = f"{len(chosen)} chosen labels"
    else:
        picked = f"top {top_n}" if top_n else "all"
        picked += f" of {', '.join(categories)}" if categories else " labels"
    note = f"WikiSQE preset: {picked}, {'binary verification' if binary else 'multi-label'}."
    return schema_version_create(
        project=project, by=by, task_type=task_type, note=note, labels=labels
    )
