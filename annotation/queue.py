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
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotation.models import AnnotatorState, Batch, BatchItem, Lease, QualificationRule
from dmops.db import db_datetime, hot_cursor
from dmops.models import Membership, Project

# A pick whose guarded insert fails is retried; each retry sees the item that filled up.
MAX_PICKS = 20


def live_leases(now: datetime) -> QuerySet[Lease]:
    """Leases that count toward an item's overlap at ``now``."""
    return Lease.objects.filter(state=Lease.State.ACTIVE, expires_at__gt=now)


class Refusal:
    """Why the queue gives an annotator nothing although items may be left."""

    PAUSED = "paused"
    NOT_QUALIFIED = "not_qualified"


# The statements of the hot path are written out in SQL: every annotator runs them once per
# judgement, and building them through the ORM cost more CPU than PostgreSQL spends running
# them. They run unchanged on SQLite, where FOR UPDATE … SKIP LOCKED is left out.
_LEASE = Lease._meta.db_table
_ITEM = BatchItem._meta.db_table
_BATCH = Batch._meta.db_table
_STATE = AnnotatorState._meta.db_table
_RULE = QualificationRule._meta.db_table
_MEMBERSHIP = Membership._meta.db_table
# Written into the statements, not passed as a parameter: the partial indexes on active leases
# (lease_live, lease_annotator_active, lease_one_active) serve a prepared statement's generic
# plan only when the planner can prove their predicate from the statement's text. With a
# parameter, the current-lease read scanned every lease the annotator ever had.
_ACTIVE = Lease.State.ACTIVE.value

_REFUSAL_SQL = f"""
    SELECT (SELECT s.paused FROM {_STATE} s WHERE s.project_id = %(project)s
                AND s.user_id = %(user)s),
           (SELECT s.qualified_at FROM {_STATE} s WHERE s.project_id = %(project)s
                AND s.user_id = %(user)s),
           EXISTS (SELECT 1 FROM {_RULE} r WHERE r.project_id = %(project)s)
           -- Managers and reviewers write the gold answers: only annotators must qualify.
           AND EXISTS (SELECT 1 FROM {_MEMBERSHIP} m WHERE m.project_id = %(project)s
                AND m.user_id = %(user)s AND m.role = 'annotator')
"""  # noqa: S608 — table names come from model metadata, values are parameters

_CURRENT_LEASE_SQL = f"""
    SELECT l.id, l.batch_item_id, l.returnable, l.created_at, l.expires_at, b.lease_ttl
    FROM {_LEASE} l
    JOIN {_ITEM} bi ON bi.id = l.batch_item_id
    JOIN {_BATCH} b ON b.id = bi.batch_id
    WHERE l.annotator_id = %(user)s AND l.state = '{_ACTIVE}' AND l.expires_at > %(now)s
      AND b.project_id = %(project)s AND b.is_open
    ORDER BY l.created_at, l.id
    LIMIT 1
"""  # noqa: S608

_OPEN_BATCHES_SQL = f"""
    SELECT id, overlap, lease_ttl, skip_policy FROM {_BATCH}
    WHERE project_id = %(project)s AND is_open
    ORDER BY priority DESC, id
"""  # noqa: S608

# The annotator's own leases that keep an item from them: all of them for a first visit;
# on a revisit, all but requeue_me_later skips.
_PICK_SQL = f"""
    SELECT bi.id FROM {_ITEM} bi
    WHERE bi.batch_id = %(batch)s AND NOT bi.is_complete AND NOT bi.is_dropped
      AND NOT EXISTS (
            SELECT 1 FROM {_LEASE} m
            WHERE m.batch_item_id = bi.id AND m.annotator_id = %(user)s {{revisit}}
          )
      AND bi.submitted_count + (
            SELECT COUNT(*) FROM {_LEASE} l
            WHERE l.batch_item_id = bi.id AND l.state = '{_ACTIVE}' AND l.expires_at > %(now)s
          ) < %(overlap)s
    ORDER BY bi.priority DESC, bi.id
    LIMIT 1
"""  # noqa: S608


_RENEW_SQL = f"""
    UPDATE {_LEASE} SET expires_at = %s WHERE id = %s AND state = '{_ACTIVE}' AND expires_at > %s
"""  # noqa: S608

_INSERT_LEASE_SQL = f"""
    INSERT INTO {_LEASE} (batch_item_id, annotator_id, state, returnable, created_at, expires_at)
    SELECT bi.id, %s, %s, %s, %s, %s
    FROM {_ITEM} bi
    WHERE bi.id = %s
      AND bi.submitted_count + (
            SELECT COUNT(*) FROM {_LEASE} l
            WHERE l.batch_item_id = bi.id AND l.state = '{_ACTIVE}' AND l.expires_at > %s
          ) < %s
    ON CONFLICT DO NOTHING
    RETURNING id
"""  # noqa: S608


# The refusal and the current lease in one round trip, for next_item.
_NEXT_STATE_SQL = f"""
    SELECT r.*, c.* FROM ({_REFUSAL_SQL}) r LEFT JOIN ({_CURRENT_LEASE_SQL}) c ON 1 = 1
"""  # noqa: S608


def _refusal(paused, qualified_at, must_qualify) -> str | None:
    if paused:
        return Refusal.PAUSED
    if must_qualify and qualified_at is None:
        return Refusal.NOT_QUALIFIED
    return None


def work_refusal(*, project: Project, annotator) -> str | None:
    """``Refusal.PAUSED`` when a manager paused the annotator; ``Refusal.NOT_QUALIFIED`` when
    the project has a qualification rule (step 7) and they are an annotator who has not passed
    it; else None. One query, with or without an AnnotatorState row."""
    with hot_cursor() as cursor:
        cursor.execute(_REFUSAL_SQL, {"project": project.pk, "user": annotator.pk})
        return _refusal(*cursor.fetchone())


def _lease_params(project: Project, annotator, now: datetime) -> dict:
    return {
        "user": annotator.pk,
        "now": _adapt(now),
        "project": project.pk,
    }


def _current_lease_from_row(row, annotator) -> Lease | None:
    lease_id, batch_item_id, returnable, created_at, expires_at, ttl = row
    if lease_id is None:
        return None
    lease = Lease(
        pk=lease_id,
        batch_item_id=batch_item_id,
        annotator=annotator,
        state=Lease.State.ACTIVE,
        returnable=bool(returnable),
        created_at=db_datetime(created_at),
        expires_at=db_datetime(expires_at),
    )
    lease.lease_ttl = ttl
    return lease


def current_lease(*, project: Project, annotator, now: datetime | None = None) -> Lease | None:
    """The annotator's live lease in the project's open batches, the oldest if a second tab
    made two. Its ``lease_ttl`` attribute is the batch's, for renewing it."""
    with hot_cursor() as cursor:
        cursor.execute(_CURRENT_LEASE_SQL, _lease_params(project, annotator, now or timezone.now()))
        row = cursor.fetchone()
    return None if row is None else _current_lease_from_row(row, annotator)


def next_item(*, project: Project, annotator, now: datetime | None = None) -> Lease | None:
    """Lease the next batch item to ``annotator`` (see the module docstring for the rule), or
    return their current live lease with its expiry renewed. ``None`` when nothing is left or
    the annotator may not work now (see ``work_refusal``)."""
    now = now or timezone.now()
    with hot_cursor() as cursor:
        cursor.execute(_NEXT_STATE_SQL, _lease_params(project, annotator, now))
        paused, qualified_at, must_qualify, *current = cursor.fetchone()
        if _refusal(paused, qualified_at, must_qualify) is not None:
            return None
        lease = _current_lease_from_row(current, annotator)
        if lease is not None:
            # Renewed only while still live: once expired, its slot may be someone else's.
            lease.expires_at = now + timedelta(seconds=lease.lease_ttl)
            cursor.execute(
                _RENEW_SQL,
                [_adapt(lease.expires_at), lease.pk, _adapt(now)],
            )
            if cursor.rowcount:
                return lease
    with transaction.atomic():
        with hot_cursor() as cursor:
            if connection.vendor == "postgresql":
                # A lease lost in a crash just after its commit costs nothing: the item goes
                # back to the pool when the annotator asks again. Not waiting for the WAL
                # flush takes milliseconds off every next-item. LOCAL: this transaction only.
                cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(_OPEN_BATCHES_SQL, {"project": project.pk})
            batches = [OpenBatch(*row) for row in cursor.fetchall()]
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


class OpenBatch(NamedTuple):
    id: int
    overlap: int
    lease_ttl: int
    skip_policy: str


def pick_sql(*, batch_id: int, annotator_id: int, overlap: int, now: datetime, revisit: bool):
    """The pick: the first batch item of the batch the annotator may be given now, in queue
    order, locked (PostgreSQL) with SKIP LOCKED. Returns (sql, params)."""
    sql = _PICK_SQL.format(revisit="AND NOT m.returnable" if revisit else "")
    if connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE OF bi SKIP LOCKED"
    params = {
        "batch": batch_id,
        "user": annotator_id,
        "now": _adapt(now),
        "overlap": overlap,
    }
    return sql, params


def _lease_in_batch(batch: OpenBatch, annotator, now: datetime, *, revisit: bool) -> Lease | None:
    expires_at = now + timedelta(seconds=batch.lease_ttl)
    sql, params = pick_sql(
        batch_id=batch.id,
        annotator_id=annotator.pk,
        overlap=batch.overlap,
        now=now,
        revisit=revisit,
    )
    for _ in range(MAX_PICKS):
        with hot_cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        picked = row[0]
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


def _adapt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _insert_lease_if_room(
    batch_item_id: int, annotator_id: int, overlap: int, now: datetime, expires_at: datetime
) -> int | None:
    """Insert the lease only if the item still has room, counted by this fresh statement while
    we hold the item's row lock. Returns the new lease id, or None when the item filled up or
    the same annotator leased it a moment ago from another tab (a unique constraint; ON
    CONFLICT DO NOTHING keeps the transaction usable without a savepoint)."""
    adapt = connection.ops.adapt_datetimefield_value
    params = [
        annotator_id,
        Lease.State.ACTIVE.value,
        False,
        adapt(now),
        adapt(expires_at),
        batch_item_id,
        adapt(now),
        overlap,
    ]
    with hot_cursor() as cursor:
        cursor.execute(_INSERT_LEASE_SQL, params)
        row = cursor.fetchone()
    return row[0] if row else None


def lease_renew(*, lease_id: int, annotator, now: datetime | None = None) -> datetime | None:
    """Extend the annotator's lease by its batch's TTL while the workbench stays open on it.
    Only a lease that is still live is renewed: once expired, its slot may already be someone
    else's, and renewing it would give the item N+1 holders. Returns the new expiry, or None
    when the lease is not the annotator's, not active, or already expired."""
    now = now or timezone.now()
    with transaction.atomic():
        lease = (
            live_leases(now)
            .filter(pk=lease_id, annotator=annotator, batch_item__batch__is_open=True)
            .values_list("batch_item__batch__lease_ttl", flat=True)
            .first()
        )
        if lease is None:
            return None
        expires_at = now + timedelta(seconds=lease)
        renewed = (
            live_leases(now).filter(pk=lease_id, annotator=annotator).update(expires_at=expires_at)
        )
    return expires_at if renewed else None


def leases_expire(*, now: datetime | None = None) -> int:
    """Mark active leases past their expiry as expired. Optional housekeeping: liveness is
    computed from ``expires_at``, so the queue is correct without it."""
    now = now or timezone.now()
    return Lease.objects.filter(state=Lease.State.ACTIVE, expires_at__lte=now).update(
        state=Lease.State.EXPIRED
    )
