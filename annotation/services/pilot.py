"""Step 9 on annotation's side: the pilot batch, and opening the main batches once it passes.

``evaluation`` decides *whether* the pilot passed (agreement is its business); these services
only write annotation's own tables, reusing the labelling services for batches.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict

from django.core.exceptions import PermissionDenied
from django.db import transaction

from annotation.models import AnnotatorState, Batch, BatchItem, Item
from annotation.services import labelling
from dmops.errors import DomainError
from dmops.models import Membership, Project

DEFAULT_PILOT_SIZE = 10


def active_annotator_count(project: Project) -> int:
    """Annotators on the project who are not paused: the pilot's overlap."""
    paused = AnnotatorState.objects.filter(project=project, paused=True).values("user_id")
    return (
        Membership.objects.filter(project=project, role=Membership.Role.ANNOTATOR)
        .exclude(user_id__in=paused)
        .count()
    )


def _stratum(weak_labels) -> str:
    """The stratum of an item: its first weak label, or "" when it has none."""
    if isinstance(weak_labels, list) and weak_labels:
        return str(weak_labels[0])
    return ""


def _allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Proportional allocation of ``total`` draws over strata, largest remainder first."""
    population = sum(sizes.values())
    total = min(total, population)
    exact = {key: total * n / population for key, n in sizes.items()}
    quota = {key: math.floor(value) for key, value in exact.items()}
    leftover = total - sum(quota.values())
    by_remainder = sorted(sizes, key=lambda key: (quota[key] - exact[key], key))
    for key in by_remainder:
        if leftover == 0:
            break
        if quota[key] < sizes[key]:
            quota[key] += 1
            leftover -= 1
    return quota


def pilot_sample(project: Project, size: int, rng: random.Random) -> list[int]:
    """Ids of ``size`` active items drawn at random, stratified by first weak label.

    Items already in an earlier pilot are left out, so a re-pilot after a guideline revision is
    judged on fresh items. One streaming pass keeps a reservoir of ``size`` ids per stratum, so
    memory is bounded by strata x size however many items the project has.
    """
    earlier = BatchItem.objects.filter(batch__project=project, batch__kind=Batch.Kind.PILOT)
    rows = (
        Item.objects.filter(project=project, is_active=True)
        .exclude(pk__in=earlier.values("item_id"))
        .order_by("pk")
        .values_list("pk", "weak_labels")
    )
    seen: dict[str, int] = defaultdict(int)
    reservoirs: dict[str, list[int]] = defaultdict(list)
    for pk, weak in rows.iterator(chunk_size=5000):
        key = _stratum(weak)
        seen[key] += 1
        reservoir = reservoirs[key]
        if len(reservoir) < size:
            reservoir.append(pk)
        else:
            j = rng.randrange(seen[key])
            if j < size:
                reservoir[j] = pk
    chosen: list[int] = []
    for key, quota in _allocate(dict(seen), size).items():
        chosen.extend(rng.sample(reservoirs[key], quota))
    return sorted(chosen)


@transaction.atomic
def pilot_batch_create(
    *, project: Project, by, size: int = DEFAULT_PILOT_SIZE, seed: int | None = None, name: str = ""
) -> Batch:
    """A manager starts a pilot: ``size`` items (default 10) sampled at random from active items
    not piloted before, stratified by weak label; overlap = the number of annotators who are not
    paused, so every one of them labels every item; kind pilot; opened at once (it needs a
    final schema)."""
    if not project.is_manager(by):
        raise PermissionDenied("Only a project manager can start a pilot.")
    if size < 2:
        raise DomainError("A pilot needs at least two items.")
    overlap = active_annotator_count(project)
    if overlap < 2:
        raise DomainError("A pilot needs at least two annotators who are not paused.")
    item_ids = pilot_sample(project, size, random.Random(seed))
    if len(item_ids) < 2:
        raise DomainError("Fewer than two active items are left that no pilot has used.")
    number = Batch.objects.filter(project=project, kind=Batch.Kind.PILOT).count() + 1
    batch = labelling.batch_create(
        project=project,
        by=by,
        name=name or f"Pilot {number}",
        items=item_ids,
        kind=Batch.Kind.PILOT,
        overlap=overlap,
        priority=100,
    )
    return labelling.batch_open(batch=batch, by=by)


@transaction.atomic
def batches_open_main(*, project: Project, by) -> list[Batch]:
    """Open every closed main batch of the project that has a schema. The caller (evaluation)
    has checked that the pilot passed; this only flips the switch, batch by batch, through the
    labelling service."""
    if not project.is_manager(by):
        raise PermissionDenied("Only a project manager can open batches.")
    opened = []
    closed = Batch.objects.filter(
        project=project, kind=Batch.Kind.MAIN, is_open=False, schema_version__isnull=False
    )
    for batch in closed.order_by("pk"):
        opened.append(labelling.batch_open(batch=batch, by=by))
    return opened
