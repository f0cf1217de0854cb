"""The statements of annotation_submit (annotation/services/labelling.py), which every annotator
runs once per judgement: written out and prepared (dmops.db.hot_cursor) rather than built by
the ORM on every call."""

from __future__ import annotations

from annotation.models import Annotation, Batch, BatchItem, GuidelineVersion, Lease, SchemaVersion

# Locks the batch item and the lease (FOR UPDATE is added where the database has it) and reads
# what the checks need: the counts, the schema, the lease's state and the current guideline.
SUBMIT_LOCK_SQL = f"""
    SELECT bi.item_id, bi.batch_id, bi.proposed_label, bi.submitted_count, b.overlap,
           sv.id, sv.number, sv.task_type, sv.question, sv.is_final,
           l.annotator_id, l.state, l.expires_at,
           (SELECT g.id FROM {GuidelineVersion._meta.db_table} g
            WHERE g.project_id = b.project_id ORDER BY g.number DESC LIMIT 1)
    FROM {BatchItem._meta.db_table} bi
    JOIN {Batch._meta.db_table} b ON b.id = bi.batch_id
    LEFT JOIN {SchemaVersion._meta.db_table} sv ON sv.id = b.schema_version_id
    JOIN {Lease._meta.db_table} l ON l.id = %(lease)s AND l.batch_item_id = bi.id
    WHERE bi.id = %(batch_item)s
"""  # noqa: S608 — table names come from model metadata, values are parameters
INSERT_ANNOTATION_SQL = f"""
    INSERT INTO {Annotation._meta.db_table} (batch_item_id, batch_id, item_id, annotator_id,
        answer, schema_version_id, guideline_version_id, seconds_spent, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
"""  # noqa: S608
LEASE_STATE_SQL = f"UPDATE {Lease._meta.db_table} SET state = %s WHERE id = %s"  # noqa: S608
COUNT_SQL = (
    f"UPDATE {BatchItem._meta.db_table} SET submitted_count = %s, is_complete = %s "  # noqa: S608
    "WHERE id = %s"
)
