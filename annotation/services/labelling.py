"""Step 8: batches of items, and what annotators do with a leased item: submit, skip, release.

Locks are always taken batch item first, then lease, as the queue does, so services never
deadlock with each other or with the queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from annotation.models import (
    Annotation,
    Batch,
    BatchItem,
    Item,
    Lease,
    SchemaVersion,
)
from annotation.queue import NOT_A_MEMBER, live_leases
from annotation.selectors.hot_path import schema_label_keys
from annotation.services._submit_sql import (
    SUBMIT_LOCK_SQL,
    WRITE_AS_ONE,
    WRITE_STATEMENTS,
    submit_in_one_call,
)
from dmops.db import db_datetime, hot_cursor
from dmops.errors import DomainError
from dmops.models import Membership, Project

BINARY_ANSWERS = ("yes", "no", "unsure")
PAIRWISE_ANSWERS = ("a", "b", "tie")


class QueueConflict(DomainError):
    """The lease can no longer do what was asked; the API answers 409."""


class LeaseExpired(QueueConflict):
    """The lease expired and its item has since been completed (or filled) by others."""


class LeaseClosed(QueueConflict):
    """The lease was already submitted, skipped or released."""


def _require_manager(project: Project, user) -> None:
    if not project.is_manager(user):
        raise PermissionDenied("Only a project manager can manage batches.")


# --- batches -------------------------------------------------------------------------------


@transaction.atomic
def batch_create(
    *,
    project: Project,
    by,
    name: str,
    items: QuerySet[Item] | Iterable[int],
    kind: str = Batch.Kind.MAIN,
    overlap: int = 1,
    priority: int = 0,
    skip_policy: str = Batch.SkipPolicy.REQUEUE_OTHERS,
    lease_ttl: int = 1800,
    schema_version: SchemaVersion | None = None,
    proposed_labels: Mapping[int, str] | None = None,
    is_open: bool = False,
) -> Batch:
    """A manager puts active items of the project into a new batch, each to be labelled by
    ``overlap`` different annotators. The schema defaults to the project's latest final one.
    Items of other projects are ignored; ``proposed_labels`` maps item id to the label a
    verification batch asks about."""
    _require_manager(project, by)
    if kind not in Batch.Kind.values:
        raise DomainError(f"Unknown batch kind {kind!r}.")
    if skip_policy not in Batch.SkipPolicy.values:
        raise DomainError(f"Unknown skip policy {skip_policy!r}.")
    if overlap < 1:
        raise DomainError("Overlap must be at least 1.")
    if lease_ttl < 1:
        raise DomainError("The lease time must be at least one second.")
    if schema_version is None:
        schema_version = (
            SchemaVersion.objects.filter(project=project, is_final=True).order_by("-number").first()
        )
    elif schema_version.project_id != project.pk:
        raise DomainError("The schema version belongs to another project.")
    batch = Batch.objects.create(
        project=project,
        name=name,
        kind=kind,
        overlap=overlap,
        priority=priority,
        skip_policy=skip_policy,
        lease_ttl=lease_ttl,
        schema_version=schema_version,
        is_open=is_open,
        created_by=by,
    )
    chosen = Item.objects.filter(project=project, is_active=True)
    if isinstance(items, QuerySet):
        chosen = chosen.filter(pk__in=items.values("pk"))
    else:
        chosen = chosen.filter(pk__in=list(items))
    if proposed_labels:
        ids = chosen.filter(pk__in=list(proposed_labels)).values_list("pk", flat=True)
        BatchItem.objects.bulk_create(
            (BatchItem(batch=batch, item_id=i, proposed_label=proposed_labels[i]) for i in ids),
            batch_size=2000,
        )
    else:
        _insert_batch_items(batch, chosen)
    return batch


def _insert_batch_items(batch: Batch, items: QuerySet[Item]) -> None:
    """One INSERT … SELECT, so a million-item batch never passes through Python."""
    select_sql, params = items.order_by().values(item_ref=F("pk")).query.sql_with_params()
    table = BatchItem._meta.db_table
    columns = (
        "batch_id, item_id, proposed_label, priority, submitted_count, is_complete, is_dropped"
    )
    sql = (
        f"INSERT INTO {table} ({columns}) "
        f"SELECT %s, chosen.item_ref, '', 0, 0, %s, %s FROM ({select_sql}) chosen"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [batch.pk, False, False, *params])


def _batch_set_open(*, batch: Batch, by, is_open: bool) -> Batch:
    _require_manager(batch.project, by)
    if is_open and batch.schema_version_id is None:
        raise DomainError("Give the batch a schema version before opening it.")
    batch.is_open = is_open
    batch.save(update_fields=["is_open"])
    return batch


@transaction.atomic
def batch_open(*, batch: Batch, by) -> Batch:
    """A manager opens a batch: its items start being served. It needs a schema version."""
    return _batch_set_open(batch=batch, by=by, is_open=True)


@transaction.atomic
def batch_close(*, batch: Batch, by) -> Batch:
    """A manager closes a batch: no new leases; leases already given can still be submitted."""
    return _batch_set_open(batch=batch, by=by, is_open=False)


# --- answers -------------------------------------------------------------------------------


def answer_validate(
    *, schema_version: SchemaVersion | None, answer: Any, proposed_label: str = ""
) -> Any:
    """Binary: "yes" / "no" / "unsure"; single: one label key; multi: a list of distinct label
    keys (empty means none applies); pairwise: "a" / "b" / "tie". An item that proposes a label
    (model verification, pre-annotation) is a yes/no question whatever the schema's task type."""
    if schema_version is None:
        raise DomainError("This batch has no schema, so no answer can be checked.")
    task = schema_version.task_type
    if task == SchemaVersion.TaskType.BINARY or proposed_label:
        if answer not in BINARY_ANSWERS:
            raise DomainError(f"Answer one of {', '.join(BINARY_ANSWERS)}.")
        return answer
    if task == SchemaVersion.TaskType.PAIRWISE:
        if answer not in PAIRWISE_ANSWERS:
            raise DomainError(f"Answer one of {', '.join(PAIRWISE_ANSWERS)}.")
        return answer
    keys = schema_label_keys(schema_version)  # cached per process for final versions
    if task == SchemaVersion.TaskType.SINGLE:
        if not isinstance(answer, str) or answer not in keys:
            raise DomainError("Answer with the key of one label of the schema.")
        return answer
    if not isinstance(answer, list) or not all(isinstance(k, str) for k in answer):
        raise DomainError("Answer with a list of label keys.")
    if len(set(answer)) != len(answer):
        raise DomainError("A label is given twice.")
    unknown = sorted(set(answer) - keys)
    if unknown:
        raise DomainError(f"Unknown labels: {', '.join(unknown)}.")
    return answer


def _lock(lease: Lease, by) -> tuple[BatchItem, Lease]:
    """Lock the batch item, then the lease, and check the lease is ``by``'s."""
    batch_item = (
        BatchItem.objects.select_for_update(of=("self",))
        .select_related("batch__schema_version")
        .get(pk=lease.batch_item_id)
    )
    lease = Lease.objects.select_for_update().get(pk=lease.pk)
    if lease.annotator_id != by.pk:
        raise PermissionDenied("This lease is another annotator's.")
    return batch_item, lease


_answer_field = Annotation._meta.get_field("answer")


def annotation_submit(
    *, lease: Lease, by, answer: Any, seconds_spent: float = 0, now: datetime | None = None
) -> Annotation:
    """Record ``by``'s answer on their leased item. A lease past its expiry is still accepted
    while the item has room (submitted + other live leases < overlap); once others completed
    or filled it, LeaseExpired. The item completes when ``overlap`` answers are in. Only the
    lease's id and batch item id are read from ``lease``.

    Every annotator runs this once per judgement. On PostgreSQL a member's valid answer on
    their own live lease is one call of ``dmops_submit``; anything else, and every submit
    elsewhere, takes the checked path."""
    now = now or timezone.now()
    if connection.vendor == "postgresql" and seconds_spent >= 0:
        created_at = timezone.now()
        row = submit_in_one_call(
            lease_id=lease.pk,
            batch_item_id=lease.batch_item_id,
            user_id=by.pk,
            answer=_answer_field.get_db_prep_save(answer, connection),
            seconds_spent=seconds_spent,
            now=now,
            created_at=created_at,
            binary_answers=BINARY_ANSWERS,
            pairwise_answers=PAIRWISE_ANSWERS,
        )
        if row is not None:
            return _saved_annotation(lease, by, answer, seconds_spent, created_at, *row)
    return _submit_checked(lease, by, answer, seconds_spent, now)


def _saved_annotation(
    lease, by, answer, seconds_spent, created_at, annotation_id, item_id, batch_id, schema_id,
    guideline_id,
) -> Annotation:  # fmt: skip
    annotation = Annotation(
        pk=annotation_id,
        batch_item_id=lease.batch_item_id,
        batch_id=batch_id,
        item_id=item_id,
        annotator=by,
        answer=answer,
        schema_version_id=schema_id,
        guideline_version_id=guideline_id,
        seconds_spent=seconds_spent,
        created_at=created_at,
    )
    annotation._state.adding, annotation._state.db = False, "default"
    return annotation


@transaction.atomic
def _submit_checked(
    lease: Lease, by, answer: Any, seconds_spent: float, now: datetime
) -> Annotation:
    """Two prepared statements (four on SQLite): lock the batch item and the lease (in that
    order, as everywhere) and read what the checks need, then insert the answer and update the
    lease and the count."""
    lock = SUBMIT_LOCK_SQL
    if connection.features.has_select_for_update:
        lock += " FOR UPDATE OF bi, l"
    with hot_cursor() as cursor:
        cursor.execute(lock, {"lease": lease.pk, "batch_item": lease.batch_item_id, "user": by.pk})
        row = cursor.fetchone()
    if row is None:
        _refuse_submit(lease, by)
    (item_id, batch_id, proposed_label, submitted, overlap, schema_id, schema_number, task_type,
     question, is_final, state, expires_at, guideline_id) = row  # fmt: skip
    if state not in (Lease.State.ACTIVE, Lease.State.EXPIRED):
        raise LeaseClosed(f"This lease was already {Lease.State(state).label.lower()}.")
    if state == Lease.State.EXPIRED or db_datetime(expires_at) <= now:
        others = live_leases(now).filter(batch_item_id=lease.batch_item_id)
        if submitted + others.exclude(pk=lease.pk).count() >= overlap:
            raise LeaseExpired(
                "Your time on this item ran out and other annotators have completed it."
            )
    if seconds_spent < 0:
        raise DomainError("Time spent cannot be negative.")
    schema = None
    if schema_id is not None:
        schema = SchemaVersion(
            pk=schema_id,
            number=schema_number,
            task_type=task_type,
            question=question,
            is_final=bool(is_final),
        )
    answer = answer_validate(schema_version=schema, answer=answer, proposed_label=proposed_label)
    created_at = timezone.now()
    params = {
        "batch_item": lease.batch_item_id,
        "batch": batch_id,
        "item": item_id,
        "user": by.pk,
        "answer": _answer_field.get_db_prep_save(answer, connection),
        "schema": schema_id,
        "guideline": guideline_id,
        "seconds": seconds_spent,
        "created_at": connection.ops.adapt_datetimefield_value(created_at),
        "lease": lease.pk,
        "count": submitted + 1,
        "complete": submitted + 1 >= overlap,
    }
    with hot_cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(WRITE_AS_ONE, params)
            annotation_id = cursor.fetchone()[0]
        else:
            insert, *updates = WRITE_STATEMENTS
            cursor.execute(insert, params)
            annotation_id = cursor.fetchone()[0]
            for statement in updates:
                cursor.execute(statement, params)
    return _saved_annotation(
        lease, by, answer, seconds_spent, created_at, annotation_id, item_id, batch_id, schema_id,
        guideline_id,
    )  # fmt: skip


def _refuse_submit(lease: Lease, by) -> NoReturn:
    """Why the lock found nothing: no such lease on this item, someone else's lease, or a
    caller who is not (or no longer) a member of the project."""
    found = (
        Lease.objects.filter(pk=lease.pk, batch_item_id=lease.batch_item_id)
        .values_list("annotator_id", "batch_item__batch__project_id")
        .first()
    )
    if found is None:
        raise Lease.DoesNotExist("No such lease on this item.")
    annotator_id, project_id = found
    if annotator_id != by.pk:
        raise PermissionDenied("This lease is another annotator's.")
    if not Membership.objects.filter(project_id=project_id, user=by).exists():
        raise PermissionDenied(NOT_A_MEMBER)
    raise Lease.DoesNotExist("No such lease on this item.")  # gone since the lock's snapshot


def _require_active(lease: Lease) -> None:
    if lease.state != Lease.State.ACTIVE:
        raise LeaseClosed(f"This lease was already {lease.get_state_display().lower()}.")


@transaction.atomic
def lease_skip(*, lease: Lease, by) -> Lease:
    """``by`` passes on their leased item, as the batch's skip policy says: requeue_others —
    the slot goes to someone else, never back to them; requeue_me_later — it may come back to
    them once nothing new is left; drop — nobody gets the item any more."""
    batch_item, lease = _lock(lease, by)
    _require_active(lease)
    policy = batch_item.batch.skip_policy
    lease.state = Lease.State.SKIPPED
    lease.returnable = policy == Batch.SkipPolicy.REQUEUE_ME_LATER
    lease.save(update_fields=["state", "returnable"])
    if policy == Batch.SkipPolicy.DROP:
        batch_item.is_dropped = True
        batch_item.save(update_fields=["is_dropped"])
    return lease


@transaction.atomic
def lease_release(*, lease: Lease, by) -> Lease:
    """``by`` gives the item back without judging it (leaving, end of shift): the slot is free
    for others at once instead of at expiry. Like every lease but a requeue_me_later skip, it
    keeps the item from coming back to them."""
    _, lease = _lock(lease, by)
    _require_active(lease)
    lease.state = Lease.State.RELEASED
    lease.save(update_fields=["state"])
    return lease


@transaction.atomic
def batch_update(
    *, batch: Batch, by, priority: int | None = None, overlap: int | None = None
) -> Batch:
    """A manager changes a batch's priority (the queue serves higher first) or its overlap.
    Overlap may always be raised (complete items with room reopen); it may be lowered only
    before any item of the batch was leased, so no item ever ends with more than N answers."""
    _require_manager(batch.project, by)
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if priority is not None:
        batch.priority = priority
    if overlap is not None and overlap != batch.overlap:
        if overlap < 1:
            raise DomainError("Overlap must be at least 1.")
        if overlap < batch.overlap and Lease.objects.filter(batch_item__batch=batch).exists():
            raise DomainError(
                "Items of this batch have been given out already; its overlap can only be raised."
            )
        items = BatchItem.objects.filter(batch=batch)
        items.filter(submitted_count__gte=overlap).update(is_complete=True)
        items.filter(submitted_count__lt=overlap).update(is_complete=False)
        batch.overlap = overlap
    batch.save(update_fields=["priority", "overlap"])
    return batch
