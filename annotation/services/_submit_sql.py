"""The statements of annotation_submit (annotation/services/labelling.py), which every annotator
runs once per judgement: written out and prepared (dmops.db.hot_cursor) rather than built by
the ORM on every call, and as few as the checks allow (each round trip costs the web process
~0.1 ms of CPU)."""

from __future__ import annotations

from annotation.models import Annotation, Batch, BatchItem, GuidelineVersion, Lease, SchemaVersion
from dmops.db import hot_cursor
from dmops.models import Membership

_ANNOTATION = Annotation._meta.db_table
_LEASE = Lease._meta.db_table
_ITEM = BatchItem._meta.db_table

# Locks the batch item and the lease (FOR UPDATE is added where the database has it) and reads
# what the checks need: the counts, the schema, the lease's state and the current guideline.
# Only a member's own lease matches, so nobody can hold a lock on rows that are not theirs; an
# empty answer is explained by annotation_submit's slower path.
SUBMIT_LOCK_SQL = f"""
    SELECT bi.item_id, bi.batch_id, bi.proposed_label, bi.submitted_count, b.overlap,
           sv.id, sv.number, sv.task_type, sv.question, sv.is_final,
           l.state, l.expires_at,
           (SELECT g.id FROM {GuidelineVersion._meta.db_table} g
            WHERE g.project_id = b.project_id ORDER BY g.number DESC LIMIT 1)
    FROM {_ITEM} bi
    JOIN {Batch._meta.db_table} b ON b.id = bi.batch_id
    LEFT JOIN {SchemaVersion._meta.db_table} sv ON sv.id = b.schema_version_id
    JOIN {_LEASE} l ON l.id = %(lease)s AND l.batch_item_id = bi.id
        AND l.annotator_id = %(user)s
    WHERE bi.id = %(batch_item)s
      AND EXISTS (SELECT 1 FROM {Membership._meta.db_table} m
                  WHERE m.project_id = b.project_id AND m.user_id = %(user)s)
"""  # noqa: S608 — table names come from model metadata, values are parameters

_INSERT_ANNOTATION = f"""
    INSERT INTO {_ANNOTATION} (batch_item_id, batch_id, item_id, annotator_id,
        answer, schema_version_id, guideline_version_id, seconds_spent, created_at)
    VALUES (%(batch_item)s, %(batch)s, %(item)s, %(user)s, %(answer)s, %(schema)s,
        %(guideline)s, %(seconds)s, %(created_at)s)
    RETURNING id
"""  # noqa: S608
_LEASE_SUBMITTED = f"UPDATE {_LEASE} SET state = 'submitted' WHERE id = %(lease)s"  # noqa: S608
_COUNT = (
    f"UPDATE {_ITEM} SET submitted_count = %(count)s, is_complete = %(complete)s "  # noqa: S608
    "WHERE id = %(batch_item)s"
)

# The three writes, one statement each (SQLite has no data-modifying WITH) …
WRITE_STATEMENTS = (_INSERT_ANNOTATION, _LEASE_SUBMITTED, _COUNT)
# … or one round trip on PostgreSQL. Each part touches another table, on rows this transaction
# has locked, so running them under one snapshot changes nothing.
WRITE_AS_ONE = f"""
    WITH lease AS ({_LEASE_SUBMITTED}), item AS ({_COUNT})
    {_INSERT_ANNOTATION}
"""

_SUBMIT_IN_ONE_CALL = """
    SELECT * FROM dmops_submit(%(lease)s, %(batch_item)s, %(user)s, %(answer)s, %(seconds)s,
                               %(now)s, %(created_at)s, %(binary_answers)s, %(pairwise_answers)s)
"""


def submit_in_one_call(
    *, lease_id, batch_item_id, user_id, answer, seconds_spent, now, created_at, binary_answers,
    pairwise_answers,
) -> tuple | None:  # fmt: skip
    """PostgreSQL's submit when nothing is wrong with it: one call of ``dmops_submit``
    (migration 0017, which says what it checks). Returns (annotation id, item id, batch id,
    schema version id, guideline version id), or None, having written nothing, and then
    annotation_submit's checked path decides. ``answer`` is prepared as the JSON field would."""
    params = {
        "lease": lease_id,
        "batch_item": batch_item_id,
        "user": user_id,
        "answer": answer,
        "seconds": float(seconds_spent),
        "now": now,
        "created_at": created_at,
        "binary_answers": list(binary_answers),
        "pairwise_answers": list(pairwise_answers),
    }
    with hot_cursor() as cursor:
        cursor.execute(_SUBMIT_IN_ONE_CALL, params)
        return cursor.fetchone()
