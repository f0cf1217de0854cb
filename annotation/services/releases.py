"""Step 12: releases — immutable, numbered snapshots of a project's labelled items.

Splits: stratified and stable
=============================
Every item gets ``h = first 32 bits of md5("<seed>:<item id>")``, a number uniform in
[0, 2^32) that depends on nothing but the seed and the item. The item goes to ``train`` if
``h < ratio_train * 2^32``, else ``dev`` if ``h < (ratio_train + ratio_dev) * 2^32``, else
``test``.

* **Stable**: the split is a pure function of (seed, item id, ratios). An item that stays in
  the next release keeps its split whatever else joins or leaves, and whatever its label
  becomes. A new release reuses the previous release's seed and ratios unless the manager
  chooses others.
* **Stratified**: the hash is independent of the label, so *within each label stratum* the
  items are split by the same uniform draw: each label's train/dev/test shares are the ratios
  in expectation, with a binomial deviation of about sqrt(p(1-p)/n) for a stratum of n items
  (about 1 point for n = 1 600). We chose this over rank-based allocation within strata,
  which hits the ratios exactly but moves items between splits whenever a stratum grows —
  and leaking a test item into a later train split is the worse error. The datasheet shows
  the achieved counts per label and split.

The hash is computed in SQL (PostgreSQL ``md5``; on SQLite the same function registered on
the connection), so the rows go in with one INSERT … SELECT whatever the release size.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q

from annotation import final_label
from annotation.exports import ROW_FIELDS
from annotation.models import RELEASE_SPLITS, Annotation, Batch, Item, Release, ReleaseRow
from annotation.services import datasheet
from dmops.errors import DomainError
from dmops.models import Project

DEFAULT_RATIOS = {"train": 0.8, "dev": 0.1, "test": 0.1}
NOTHING_TO_RELEASE = "No active item has a final label yet: there is nothing to release."
_SPACE = 2**32


def split_of(seed: str, item_id: int, ratios: Mapping[str, float]) -> str:
    """The split of one item; the SQL below computes exactly this."""
    h = int(hashlib.md5(f"{seed}:{item_id}".encode()).hexdigest()[:8], 16)
    train_cut, dev_cut = _cuts(ratios)
    return "train" if h < train_cut else "dev" if h < dev_cut else "test"


def _cuts(ratios: Mapping[str, float]) -> tuple[int, int]:
    train = round(ratios.get("train", 0) * _SPACE)
    return train, train + round(ratios.get("dev", 0) * _SPACE)


def _hash32(seed: str, item_id: int) -> int:
    return int(hashlib.md5(f"{seed}:{item_id}".encode()).hexdigest()[:8], 16)


def _hash_sql(vendor: str) -> str:
    if vendor == "postgresql":
        return "(('x' || substr(md5(%s || ':' || d.item_id::text), 1, 8))::bit(32)::bigint)"
    connection.ensure_connection()
    connection.connection.create_function("dmops_hash32", 2, _hash32, deterministic=True)
    return "dmops_hash32(%s, d.item_id)"


def validate_ratios(ratios: Mapping[str, float]) -> dict[str, float]:
    """Ratios for train, dev and test: each ≥ 0, train > 0, summing to 1."""
    unknown = set(ratios) - set(RELEASE_SPLITS)
    if unknown:
        raise DomainError(f"Unknown split(s) {sorted(unknown)}; splits are train, dev, test.")
    clean = {s: float(ratios.get(s, 0)) for s in RELEASE_SPLITS}
    if any(v < 0 for v in clean.values()) or clean["train"] <= 0:
        raise DomainError("Split ratios must not be negative and train must be above 0.")
    if abs(sum(clean.values()) - 1) > 1e-6:
        raise DomainError(f"Split ratios must add up to 1, not {sum(clean.values()):g}.")
    return clean


def release_fields(release: Release) -> tuple[str, ...]:
    """The row fields of the release's files: judgements only if the release includes them."""
    if release.include_judgements:
        return ROW_FIELDS
    return tuple(f for f in ROW_FIELDS if f != "judgements")


@transaction.atomic
def release_create(
    *,
    project: Project,
    by,
    ratios: Mapping[str, float] | None = None,
    seed: str | None = None,
    batch_ids: Sequence[int] = (),
    source_ids: Sequence[int] = (),
    include_judgements: bool = False,
    known_limitations: str = "",
    note: str = "",
) -> Release:
    """A manager asks for the next release number: the release is recorded as *building*
    and a Celery job (annotation/services/release_build.py) writes its rows, datasheet and
    files after commit, then publishes it. Seed and ratios default to the previous release's
    so splits stay stable. Refused at once when no active item (of the chosen batches /
    sources) has a label yet; the job makes the exact selection."""
    if not project.is_manager(by):
        raise PermissionDenied("Only a project manager can create a release.")
    Project.objects.select_for_update().filter(pk=project.pk).first()  # serialise numbering
    previous = Release.objects.filter(project=project).order_by("-number").first()
    ratios = validate_ratios(ratios or (previous.split_ratios if previous else DEFAULT_RATIOS))
    seed = (seed or (previous.seed if previous else "") or secrets.token_hex(8)).strip()
    if not _has_labelled_items(project, batch_ids, source_ids):
        raise DomainError(NOTHING_TO_RELEASE)
    number = (Release.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    release = Release.objects.create(
        project=project,
        number=number,
        split_ratios=ratios,
        seed=seed[:64],
        filters={"batch_ids": list(batch_ids), "source_ids": list(source_ids)},
        include_judgements=include_judgements,
        known_limitations=known_limitations,
        note=note,
        created_by=by,
        stage="Waiting for a worker",
    )
    from annotation.celery_tasks import build_release

    transaction.on_commit(lambda: build_release.delay(release.pk))
    return release


def _has_labelled_items(
    project: Project, batch_ids: Sequence[int], source_ids: Sequence[int]
) -> bool:
    # A cheap necessary condition (an aggregate or one counted judgement), so an empty
    # project is told at once; the job's INSERT … SELECT applies the full rule.
    items = Item.objects.filter(project=project, is_active=True)
    if source_ids:
        items = items.filter(source_id__in=source_ids)
    if batch_ids:
        items = items.filter(batch_items__batch_id__in=batch_ids)
    judged = Annotation.objects.filter(item=OuterRef("pk")).exclude(
        batch_item__batch__kind=Batch.Kind.TRAINING
    )
    return items.filter(Q(final_rule="aggregated") | Exists(judged)).exists()


def release_rows_write(release: Release) -> None:
    """Insert the release's rows (one INSERT … SELECT), then its counts and datasheet."""
    _insert_rows(release)
    counts = dict(
        ReleaseRow.objects.filter(release=release)
        .values_list("split")
        .annotate(n=Count("id"))
        .order_by()
    )
    if not counts:
        raise DomainError(NOTHING_TO_RELEASE)
    release.split_counts = {s: counts.get(s, 0) for s in RELEASE_SPLITS}
    release.row_count = sum(counts.values())
    release.datasheet = datasheet.datasheet_build(release)
    release.save(update_fields=["split_counts", "row_count", "datasheet"])


def _insert_rows(release: Release) -> None:
    vendor = connection.vendor
    rows_sql, rows_params = final_label.final_label_rows_sql(
        project_id=release.project_id,
        vendor=vendor,
        batch_ids=release.filters.get("batch_ids", ()),
        source_ids=release.filters.get("source_ids", ()),
        with_judgements=release.include_judgements,
    )
    train_cut, dev_cut = _cuts(release.split_ratios)
    h = _hash_sql(vendor)
    split = f"CASE WHEN {h} < %s THEN 'train' WHEN {h} < %s THEN 'dev' ELSE 'test' END"
    table = ReleaseRow._meta.db_table
    sql = (
        f"INSERT INTO {table} (release_id, item_id, split, text, metadata, label, label_rule,"
        " confidence, judgements)"
        f" SELECT %s, d.item_id, {split}, d.text, d.metadata, d.label, d.label_rule,"
        f" d.confidence, d.judgements FROM ({rows_sql}) d ORDER BY d.item_id"
    )
    params = [release.pk, release.seed, train_cut, release.seed, dev_cut, *rows_params]
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            # Hash joins and aggregates over millions of judgements: keep them in memory.
            cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(sql, params)
        if vendor == "postgresql":
            # Fresh statistics, so the exports' plans see a million rows, not an empty table.
            cursor.execute(f"ANALYZE {table}")


def release_directory(release: Release) -> Path:
    return (
        Path(settings.MEDIA_ROOT)
        / "releases"
        / f"project-{release.project_id}"
        / f"v{release.number}-{release.pk}"
    )
