"""Items' final labels and the reviews that settle them (step 10), on annotation's side.

``evaluation`` computes aggregates and decides what goes to review; it writes here, never into
these tables itself. The one rule every writer obeys: a reviewer's decision
(``final_rule="reviewed"``) is never overwritten by an aggregate.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from annotation.models import Batch, BatchItem, Item, Review, SchemaVersion
from annotation.services.labelling import answer_validate
from dmops.errors import DomainError
from dmops.models import Membership, Project

REVIEWED = "reviewed"
AGGREGATED = "aggregated"
REANNOTATION_BATCH = "Re-annotation"
# Ids per query: well under SQLite's and psycopg's limits on bound parameters.
CHUNK = 2000


def _require_reviewer(project: Project, user) -> None:
    if project.role_of(user) not in (Membership.Role.MANAGER, Membership.Role.REVIEWER):
        raise PermissionDenied("Only reviewers and managers can review labels.")


@transaction.atomic
def final_labels_write(
    *,
    project: Project,
    labels: Mapping[int, tuple[Any, float | None]],
    rule: str = AGGREGATED,
) -> tuple[int, int]:
    """Write ``{item_id: (label, confidence)}`` as the items' final labels under ``rule``.

    Items a reviewer decided keep their label: returns (written, kept because reviewed);
    on PostgreSQL "written" leaves out rows that already held the same label. Items of other
    projects are ignored. The guard is in the UPDATE itself (``WHERE final_rule <>
    'reviewed'``), so a decision recorded meanwhile is never lost.
    """
    if rule == REVIEWED:
        raise DomainError("Reviewed labels are written by a review decision, not in bulk.")
    rows = [(int(pk), label, conf) for pk, (label, conf) in labels.items()]
    if not rows:
        return 0, 0
    table = Item._meta.db_table
    ids = [row[0] for row in rows]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement; the rows travel as one JSON document (cheap to encode and parse),
            # and rows whose label is unchanged are not rewritten.
            payload = json.dumps([{"id": pk, "label": lb, "conf": c} for pk, lb, c in rows])
            cursor.execute(
                f"""
                UPDATE {table} AS item
                SET final_label = v.label, final_confidence = v.conf, final_rule = %s
                FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, label jsonb, conf float8)
                WHERE item.id = v.id AND item.project_id = %s AND item.final_rule <> %s
                  AND (item.final_rule <> %s OR item.final_label IS DISTINCT FROM v.label
                       OR item.final_confidence IS DISTINCT FROM v.conf)
                """,  # noqa: S608 — the table name comes from model metadata
                [rule, payload, project.pk, REVIEWED, rule],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET final_label = %s, final_confidence = %s, final_rule = %s "
                "WHERE id = %s AND project_id = %s AND final_rule <> %s",  # noqa: S608
                [(json.dumps(lb), c, rule, pk, project.pk, REVIEWED) for pk, lb, c in rows],
            )
        written = cursor.rowcount
    # Reviewed items are the few a person decided: read them, not the many ids written.
    reviewed = Item.objects.filter(project=project, final_rule=REVIEWED)
    kept = len(set(reviewed.values_list("pk", flat=True)) & set(ids))
    return written, kept


@transaction.atomic
def reviews_enqueue(*, project: Project, by, entries: Iterable[tuple[int, str]]) -> int:
    """Put items in the review queue as pending reviews, ``(item_id, reason)`` each.

    An item already waiting for review is not queued twice, and an item already decided for a
    reason is not queued again for the same reason. Returns how many were queued.
    """
    _require_reviewer(project, by)
    wanted: dict[int, str] = {}
    for item_id, reason in entries:
        if reason not in Review.Reason.values:
            raise DomainError(f"Unknown review reason {reason!r}.")
        wanted.setdefault(int(item_id), reason)
    if not wanted:
        return 0
    valid: set[int] = set()
    pending: set[int] = set()
    decided: set[tuple[int, str]] = set()
    ids = list(wanted)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        valid.update(
            Item.objects.filter(project=project, pk__in=chunk).values_list("pk", flat=True)
        )
        existing = Review.objects.filter(item_id__in=chunk).values_list(
            "item_id", "reason", "decision"
        )
        for item_id, reason, decision in existing:
            if decision:
                decided.add((item_id, reason))
            else:
                pending.add(item_id)
    new = [
        Review(item_id=item_id, reason=reason)
        for item_id, reason in wanted.items()
        if item_id in valid and item_id not in pending and (item_id, reason) not in decided
    ]
    Review.objects.bulk_create(new, batch_size=2000)
    return len(new)


def _current_schema(project: Project) -> SchemaVersion | None:
    return SchemaVersion.objects.filter(project=project, is_final=True).order_by("-number").first()


@transaction.atomic
def item_send_back(*, item: Item, by, note: str = "") -> BatchItem:
    """Send an item back for re-annotation: it joins the project's open re-annotation batch
    (kind verification, overlap 1, served before other batches), or a new one when the latest
    already holds it. The new judgement joins the item's others; aggregation keeps each
    annotator's latest judgement."""
    _require_reviewer(item.project, by)
    schema = _current_schema(item.project)
    batch = (
        Batch.objects.filter(
            project=item.project,
            kind=Batch.Kind.VERIFICATION,
            name__startswith=REANNOTATION_BATCH,
            is_open=True,
        )
        .exclude(batch_items__item=item)
        .order_by("-pk")
        .first()
    )
    if batch is None:
        count = Batch.objects.filter(
            project=item.project, name__startswith=REANNOTATION_BATCH
        ).count()
        batch = Batch.objects.create(
            project=item.project,
            name=REANNOTATION_BATCH if not count else f"{REANNOTATION_BATCH} {count + 1}",
            kind=Batch.Kind.VERIFICATION,
            overlap=1,
            priority=200,
            is_open=schema is not None,
            schema_version=schema,
            created_by=by,
        )
    return BatchItem.objects.create(batch=batch, item=item, priority=1)


@transaction.atomic
def review_record(
    *, review: Review, by, decision: str, label: Any = None, note: str = ""
) -> Review:
    """Record a reviewer's decision on a pending review.

    accept — the item's current final label becomes the reviewed label (there must be one);
    correct — ``label`` (valid for the current schema) becomes the reviewed label, confidence 1;
    send_back — a note is required and the item goes to a re-annotation batch; its label stays
    as it is until re-aggregated. A review is decided once.
    """
    review = Review.objects.select_for_update().select_related("item__project").get(pk=review.pk)
    item = review.item
    _require_reviewer(item.project, by)
    if review.decision:
        raise DomainError("This review has already been decided.")
    if decision not in Review.Decision.values:
        raise DomainError(f"Unknown decision {decision!r}.")
    note = (note or "").strip()
    if decision == Review.Decision.ACCEPT:
        if item.final_label is None:
            raise DomainError("The item has no label to accept yet; correct it instead.")
        label = item.final_label
    elif decision == Review.Decision.CORRECT:
        label = answer_validate(schema_version=_current_schema(item.project), answer=label)
    else:
        if not note:
            raise DomainError({"note": "Say what the annotators should look at again."})
        label = None
        item_send_back(item=item, by=by, note=note)
    if label is not None:
        confidence = 1.0 if decision == Review.Decision.CORRECT else item.final_confidence
        Item.objects.filter(pk=item.pk).update(
            final_label=label, final_confidence=confidence, final_rule=REVIEWED
        )
    review.reviewer = by
    review.decision = decision
    review.label = label
    review.note = note
    review.decided_at = timezone.now()
    review.save(update_fields=["reviewer", "decision", "label", "note", "decided_at"])
    return review
