"""The next item for an annotator: exact-N overlap with leases. This is the hot path.

An annotator gets a batch item of an open batch of the project, in (batch priority, item
priority, id) order, that

* they were never leased (only a skip under the requeue_me_later policy lets an item come back,
  and then only once nothing they have not seen is left),
* is not complete or dropped, and
* has room: ``submitted_count + live leases < batch.overlap``, where a lease is live while it is
  active and ``expires_at > now``. An expired lease stops counting without any write.

Locking (PostgreSQL). The pick is one statement, ``SELECT … FOR UPDATE OF batch_item SKIP
LOCKED LIMIT 1``: concurrent pickers never wait on each other, they step over rows another
transaction holds and take the next item. Every transaction that leases (or submits to) an item
holds that item's row lock until it commits. The pick's own count of live leases is read from
the statement's snapshot, which can be older than the lock it then takes (a picker that
committed in between is not seen: PostgreSQL re-checks the locked row, not the lease table), so
the lease is inserted by a second statement guarded by a fresh count taken *while holding the
lock*: ``INSERT … SELECT … WHERE submitted_count + live < overlap``. That count sees every
lease of the item, because each of them was inserted under the same lock and committed before
we could take it. If the guard fails (rare: the item filled up in that window) we pick again.
SQLite (development and tests) runs the same statements: FOR UPDATE is dropped there, and the
database-wide write lock serialises the guarded inserts, so the count stays exact.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.models import AnnotatorState, Batch, BatchItem, Lease, QualificationRule
from dmops.models import Project

# A pick whose guarded insert fails is retried; each retry sees the item that filled up.
MAX_PICKS = 20


def live_leases(now: datetime) -> QuerySet[Lease]:
    """Leases that count toward an item's overlap at ``now``."""
    return Lease.objects.filter(state=Lease.State.ACTIVE, expires_at__gt=now)


class Refusal:
    """Why the queue gives an annotator nothing although items may be left."""

    PAUSED = "paused"
    NOT_QUALIFIED = "not_qualified"


def work_refusal(*, project: Project, annotator) -> str | None:
    """``Refusal.PAUSED`` when a manager paused the annotator; ``Refusal.NOT_QUALIFIED`` when
    the project has a qualification rule (step 7) they have not passed; else None. One query
    for a qualified annotator, the common case."""
    state = (
        AnnotatorState.objects.filter(project=project, user=annotator)
        .values_list("paused", "qualified_at")
        .first()
    )
    paused, qualified_at = state or (False, None)
    if paused:
        return Refusal.PAUSED
    if qualified_at is None and QualificationRule.objects.filter(project=project).exists():
        return Refusal.NOT_QUALIFIED
    return None


def current_lease(*, project: Project, annotator, now: datetime | None = None) -> Lease | None:
    """The annotator's live lease in the project, the oldest if a second tab made two."""
    now = now or timezone.now()
    return (
        live_leases(now)
        .filter(
            annotator=annotator,
            batch_item__batch__project=project,
            batch_item__batch__is_open=True,
        )
        .select_related("batch_item__batch")
        .order_by("created_at", "pk")
        .first()
    )


def next_item(*, project: Project, annotator, now: datetime | None = None) -> Lease | None:
    """Lease the next batch item to ``annotator`` (see the module docstring for the rule), or
    return their current live lease with its expiry renewed. ``None`` when nothing is left or
    the annotator may not work now (see ``work_refusal``)."""
    now = now or timezone.now()
    if work_refusal(project=project, annotator=annotator) is not None:
        return None
    with transaction.atomic():
        lease = current_lease(project=project, annotator=annotator, now=now)
        if lease is not None:
            lease.expires_at = now + timedelta(seconds=lease.batch_item.batch.lease_ttl)
            lease.save(update_fields=["expires_at"])
            return lease
        batches = list(
            Batch.objects.filter(project=project, is_open=True)
            .order_by("-priority", "pk")
            .only("id", "overlap", "lease_ttl", "skip_policy")
        )
        for batch in batches:
            lease = _lease_in_batch(batch, annotator, now, revisit=False)
            if lease is not None:
                return lease
        # Nothing new is left: items this annotator put back with requeue_me_later come back.
        for batch in batches:
            if batch.skip_policy == Batch.SkipPolicy.REQUEUE_ME_LATER:
                lease = _lease_in_batch(batch, annotator, now, revisit=True)
                if lease is not None:
                    return lease
    return None


def candidates(batch: Batch, annotator, now: datetime, *, revisit: bool) -> QuerySet[BatchItem]:
    """Batch items of ``batch`` the annotator may be given now, in queue order."""
    mine = Lease.objects.filter(batch_item=OuterRef("pk"), annotator=annotator)
    if revisit:
        mine = mine.filter(returnable=False)
    live = (
        live_leases(now)
        .filter(batch_item=OuterRef("pk"))
        .order_by()
        .values("batch_item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        BatchItem.objects.filter(batch=batch, is_complete=False, is_dropped=False)
        .filter(~Exists(mine))
        .alias(taken=F("submitted_count") + Coalesce(Subquery(live), 0))
        .filter(taken__lt=batch.overlap)
        .order_by("-priority", "pk")
    )


def _lease_in_batch(batch: Batch, annotator, now: datetime, *, revisit: bool) -> Lease | None:
    expires_at = now + timedelta(seconds=batch.lease_ttl)
    for _ in range(MAX_PICKS):
        picked = (
            candidates(batch, annotator, now, revisit=revisit)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)
            .first()
        )
        if picked is None:
            return None
        lease_id = _insert_lease_if_room(picked, annotator.pk, batch.overlap, now, expires_at)
        if lease_id is not None:
            return Lease(
                pk=lease_id,
                batch_item_id=picked,
                annotator=annotator,
                state=Lease.State.ACTIVE,
                returnable=False,
                created_at=now,
                expires_at=expires_at,
            )
    return None


def _insert_lease_if_room(
    batch_item_id: int, annotator_id: int, overlap: int, now: datetime, expires_at: datetime
) -> int | None:
    """Insert the lease only if the item still has room, counted by this fresh statement while
    we hold the item's row lock. Returns the new lease id, or None when the item filled up or
    the same annotator leased it a moment ago from another tab (a unique constraint; ON
    CONFLICT DO NOTHING keeps the transaction usable without a savepoint)."""
    lease_table = Lease._meta.db_table
    item_table = BatchItem._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    sql = f"""
        INSERT INTO {lease_table}
            (batch_item_id, annotator_id, state, returnable, created_at, expires_at)
        SELECT bi.id, %s, %s, %s, %s, %s
        FROM {item_table} bi
        WHERE bi.id = %s
          AND bi.submitted_count + (
                SELECT COUNT(*) FROM {lease_table} l
                WHERE l.batch_item_id = bi.id AND l.state = %s AND l.expires_at > %s
              ) < %s
        ON CONFLICT DO NOTHING
        RETURNING id
    """  # noqa: S608 — table names come from model metadata, values are parameters
    params = [
        annotator_id,
        Lease.State.ACTIVE.value,
        False,
        adapt(now),
        adapt(expires_at),
        batch_item_id,
        Lease.State.ACTIVE.value,
        adapt(now),
        overlap,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def leases_expire(*, now: datetime | None = None) -> int:
    """Mark active leases past their expiry as expired. Optional housekeeping: liveness is
    computed from ``expires_at``, so the queue is correct without it."""
    now = now or timezone.now()
    return Lease.objects.filter(state=Lease.State.ACTIVE, expires_at__lte=now).update(
        state=Lease.State.EXPIRED
    )
