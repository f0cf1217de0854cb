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
On PostgreSQL the pick and the guarded insert run inside one call of the PL/pgSQL function
``dmops_lease`` (migration 0016): one round trip instead of BEGIN, pick, insert, COMMIT, with
the same snapshots, since each statement of a volatile function takes a fresh one. And all of
next_item, from who may work to the lease, is one call of ``dmops_next_item`` (migration
0018), which calls ``dmops_lease``. SQLite (development and tests) runs the statements from
Python: FOR UPDATE is dropped there, and the database-wide write lock serialises the guarded
inserts, so the count stays exact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotation import _queue_sql as sql
from annotation.models import Batch, BatchItem, Item, Lease
from dmops.db import db_datetime, hot_cursor
from dmops.models import Membership, Project

NOT_A_MEMBER = "You are not a member of this project."

# A pick whose guarded insert fails is retried; each retry sees the item that filled up.
MAX_PICKS = 20

# pg_advisory_xact_lock(class, user id) on PostgreSQL: next_item holds it shared for its whole
# transaction (dmops_next_item, migration 0018, which has this number written in), and a pause
# or a removal from the project exclusively (services.team). A next_item that started before
# the pause has committed its lease when the pause reads the leases to release; one that starts
# during it reads the pause. Without it, a lease handed out at the instant of a pause outlived
# it.
PAUSE_LOCK_CLASS = 0x5041_5553  # "PAUS"


def live_leases(now: datetime) -> QuerySet[Lease]:
    """Leases that count toward an item's overlap at ``now``."""
    return Lease.objects.filter(state=Lease.State.ACTIVE, expires_at__gt=now)


class Refusal:
    """Why the queue gives an annotator nothing although items may be left."""

    PAUSED = "paused"
    NOT_QUALIFIED = "not_qualified"


# dmops_next_item (migration 0018) holds a copy of this rule for PostgreSQL; a test compares
# the two on every combination of role, pause, rule and qualification.
def _refusal(paused, qualified_at, must_qualify) -> str | None:
    if paused:
        return Refusal.PAUSED
    if must_qualify and qualified_at is None:
        return Refusal.NOT_QUALIFIED
    return None


def work_refusal(*, project: Project, annotator) -> str | None:
    """``Refusal.PAUSED`` when a manager paused the annotator; ``Refusal.NOT_QUALIFIED`` when
    the project has a qualification rule (step 7) and they are an annotator who has not passed
    it; else None. One query (next_item's first), with or without an AnnotatorState row."""
    state = _next_state(project.pk, annotator, timezone.now())
    return None if state is None else state.refusal


def _lease_params(project_id: int, annotator, now: datetime) -> dict:
    return {"user": annotator.pk, "now": _adapt(now), "project": project_id}


class OpenBatch(NamedTuple):
    id: int
    overlap: int
    lease_ttl: int
    skip_policy: str
    name: str
    kind: str
    schema_version_id: int | None


_metadata = Item._meta.get_field("metadata")


def _loaded(model, **values):
    """An instance of ``model`` as if read from the database with only these fields; the
    others are deferred (loaded on first access), never filled with defaults."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db("default", names, [values[name] for name in names])


def _screen(lease: Lease, row, batch: Batch) -> Lease:
    """Attach the leased batch item, its item (text and metadata) and its batch to ``lease``,
    from a row of the item part of sql.SCREEN_COLUMNS, so that reading them takes no query."""
    batch_item_id, item_id, proposed_label, text, metadata = row
    item = _loaded(
        Item, id=item_id, text=text, metadata=_metadata.from_db_value(metadata, None, connection)
    )
    batch_item = _loaded(
        BatchItem,
        id=batch_item_id,
        batch_id=batch.pk,
        item_id=item_id,
        proposed_label=proposed_label,
    )
    BatchItem.batch.field.set_cached_value(batch_item, batch)
    BatchItem.item.field.set_cached_value(batch_item, item)
    Lease.batch_item.field.set_cached_value(lease, batch_item)
    return lease


def _lease_from_row(row, annotator) -> Lease | None:
    """The lease with its screen from a row laid out as sql.CURRENT_LEASE's (the current lease,
    or on PostgreSQL a new one from dmops_next_item); None for a row of NULLs."""
    (lease_id, returnable, created_at, expires_at, ttl, batch_item_id, item_id, proposed_label,
     text, metadata, batch_id, name, kind, schema_version_id) = row  # fmt: skip
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
    batch = _loaded(
        Batch,
        id=batch_id,
        name=name,
        kind=kind,
        schema_version_id=schema_version_id,
        lease_ttl=ttl,
    )
    return _screen(lease, (batch_item_id, item_id, proposed_label, text, metadata), batch)


class _NextState(NamedTuple):
    role: str | None
    refusal: str | None
    current_lease: tuple  # a row of sql.CURRENT_LEASE, all None without one
    open_batches: list[OpenBatch]


def _next_state(project_id: int, annotator, now: datetime) -> _NextState | None:
    """What next_item needs before it leases, from sql.NEXT_STATE; None: no such project."""
    with hot_cursor() as cursor:
        cursor.execute(sql.NEXT_STATE, _lease_params(project_id, annotator, now))
        rows = cursor.fetchall()
    if not rows:
        return None
    lease_end = 4 + sql.CURRENT_LEASE_WIDTH
    role, paused, qualified_at, has_rule = rows[0][:4]
    # Managers and reviewers write the gold answers: only annotators must qualify.
    must_qualify = has_rule and role == Membership.Role.ANNOTATOR
    return _NextState(
        role=role,
        refusal=_refusal(paused, qualified_at, must_qualify),
        current_lease=rows[0][4:lease_end],
        open_batches=[OpenBatch(*row[lease_end:]) for row in rows if row[lease_end] is not None],
    )


def next_item(
    *, project: Project, annotator, now: datetime | None = None, members_only: bool = False
) -> Lease | None:
    """Lease the next batch item to ``annotator`` (see the module docstring for the rule), or
    return their current live lease with its expiry renewed. ``None`` when nothing is left or
    the annotator may not work now (see ``work_refusal``). The lease comes with its batch item,
    item and batch loaded.

    ``members_only``: raise ``Project.DoesNotExist`` when there is no such project and
    PermissionDenied when ``annotator`` is not a member of it, checked in the same query (the
    API's next-item has nothing else to check)."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        return _next_item_by_function(project.pk, annotator, now, members_only=members_only)
    # SQLite begins every transaction IMMEDIATE (settings.py), so reading who may work and
    # leasing are one write-locked step: a pause (a transaction of its own) comes before it
    # and is read, or waits for it and releases what it leased.
    with transaction.atomic():
        return _next_item_by_statements(project.pk, annotator, now, members_only=members_only)


def _next_item_by_statements(
    project_id: int, annotator, now: datetime, *, members_only: bool
) -> Lease | None:
    """Elsewhere than PostgreSQL: next_item as statements run from Python, in the caller's
    transaction."""
    state = _next_state(project_id, annotator, now)
    if members_only and state is None:
        raise Project.DoesNotExist(f"No project {project_id}.")
    if members_only and state.role is None:
        raise PermissionDenied(NOT_A_MEMBER)
    if state is None or state.refusal is not None:
        return None
    lease = _lease_from_row(state.current_lease, annotator)
    if lease is not None:
        # Renewed only while still live: once expired, its slot may be someone else's.
        lease.expires_at = now + timedelta(seconds=lease.batch_item.batch.lease_ttl)
        with hot_cursor() as cursor:
            cursor.execute(sql.RENEW, [_adapt(lease.expires_at), lease.pk, _adapt(now)])
            if cursor.rowcount:
                return lease
    batches = state.open_batches
    if not batches:
        return None
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


def _next_item_by_function(
    project_id: int, annotator, now: datetime, *, members_only: bool
) -> Lease | None:
    """PostgreSQL: next_item as one call of ``dmops_next_item`` (migration 0018), which returns
    an outcome and, for a current or new lease, a row laid out as sql.CURRENT_LEASE's."""
    params = {
        "project": project_id,
        "user": annotator.pk,
        "now": now,
        "members_only": members_only,
        "max_picks": MAX_PICKS,
    }
    with hot_cursor() as cursor:
        cursor.execute(sql.NEXT_ITEM_BY_FUNCTION, params)
        outcome, *lease_row = cursor.fetchone()
    if outcome == "no_project" and members_only:
        raise Project.DoesNotExist(f"No project {project_id}.")
    if outcome == "not_member":
        raise PermissionDenied(NOT_A_MEMBER)
    if outcome in ("current", "leased"):
        return _lease_from_row(lease_row, annotator)
    return None  # no_project, paused, not_qualified or empty


def pick_sql(*, batch_id: int, annotator_id: int, overlap: int, now: datetime, revisit: bool):
    """The pick as a statement (SQLite's lease, and the queue bench's EXPLAIN): the first batch
    item of the batch the annotator may be given now, in queue order, locked (PostgreSQL) with
    SKIP LOCKED, with what the screen shows of its item. Returns (sql, params)."""
    statement = sql.PICK.format(revisit="AND NOT m.returnable" if revisit else "")
    if connection.features.has_select_for_update_skip_locked:
        statement += " FOR UPDATE OF bi SKIP LOCKED"
    params = {
        "batch": batch_id,
        "user": annotator_id,
        "now": _adapt(now),
        "overlap": overlap,
    }
    return statement, params


def _lease_in_batch(batch: OpenBatch, annotator, now: datetime, *, revisit: bool) -> Lease | None:
    """Elsewhere than PostgreSQL (where ``dmops_lease`` does this inside ``dmops_next_item``):
    the pick and the guarded insert as statements, in the caller's transaction."""
    expires_at = now + timedelta(seconds=batch.lease_ttl)
    statement, params = pick_sql(
        batch_id=batch.id,
        annotator_id=annotator.pk,
        overlap=batch.overlap,
        now=now,
        revisit=revisit,
    )
    for _ in range(MAX_PICKS):
        with hot_cursor() as cursor:
            cursor.execute(statement, params)
            row = cursor.fetchone()
        if row is None:
            return None
        lease_id = _insert_lease_if_room(row[0], annotator.pk, batch.overlap, now, expires_at)
        if lease_id is not None:
            lease = Lease(
                pk=lease_id,
                batch_item_id=row[0],
                annotator=annotator,
                state=Lease.State.ACTIVE,
                returnable=False,
                created_at=now,
                expires_at=expires_at,
            )
            return _screen(lease, row[:5], _loaded(Batch, **batch._asdict()))
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
        cursor.execute(sql.INSERT_LEASE, params)
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
