"""Builders for the labelling tests: items, schemas, batches and annotators, made the way the
services make them."""

from __future__ import annotations

from collections.abc import Callable

from annotation.models import Batch, ImportJob, Item, Label, SchemaVersion, Source
from annotation.services import labelling as services
from dmops.models import Membership
from tests.dmops.factories import UserFactory


def make_items(
    project, n: int, *, prefix: str = "Sentence", weak: Callable[[int], list] | None = None
) -> list[Item]:
    """``n`` imported items; ``weak`` gives item ``i`` its weak labels."""
    source = Source.objects.create(project=project, name="s", format="text", licence="cc0-1.0")
    job = ImportJob.objects.create(
        project=project, source=source, file_name="f.txt", status="succeeded"
    )
    return Item.objects.bulk_create(
        Item(
            project=project,
            source=source,
            import_job=job,
            position=i,
            text=f"{prefix} number {i}.",
            raw_text=f"{prefix} number {i}.",
            text_hash=f"{prefix}-{i}",
            metadata={"n": i},
            weak_labels=weak(i) if weak else [],
        )
        for i in range(n)
    )


def make_schema(project, task_type: str = "binary", labels=("claim", "opinion")):
    schema = SchemaVersion.objects.create(
        project=project,
        number=SchemaVersion.objects.filter(project=project).count() + 1,
        task_type=task_type,
        question="Does this sentence need a citation?",
        is_final=True,
    )
    for order, key in enumerate(labels):
        Label.objects.create(schema_version=schema, key=key, name=key.title(), order=order)
    return schema


def make_batch(project, items, *, by=None, overlap: int = 1, **kwargs) -> Batch:
    by = by or project.memberships.get(role=Membership.Role.MANAGER).user
    if not SchemaVersion.objects.filter(project=project).exists():
        make_schema(project)
    return services.batch_create(
        project=project,
        by=by,
        name=kwargs.pop("name", "main"),
        items=[i.pk for i in items],
        overlap=overlap,
        is_open=kwargs.pop("is_open", True),
        **kwargs,
    )


def annotators_on(project, n: int, prefix: str = "ann") -> list:
    users = [UserFactory(username=f"{prefix}{i}") for i in range(n)]
    Membership.objects.bulk_create(
        Membership(project=project, user=u, role=Membership.Role.ANNOTATOR) for u in users
    )
    return users
