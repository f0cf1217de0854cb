"""A submit on PostgreSQL as one function call when nothing is wrong with it
(annotation/services/labelling.py, ``annotation_submit``).

The checked path locks the batch item and the lease, checks them in Python, validates the
answer against the schema and writes: BEGIN, lock, write, COMMIT, four round trips. Almost
every submit is a member answering a valid answer on their own live lease, and for that case
``dmops_submit`` takes the same locks, makes the same checks and writes the same rows in one.
Anything else (no such lease, someone else's, not a member, a lease that is closed or past its
expiry, an answer the schema does not allow, no schema) makes it write nothing and return no
row, and the caller runs the checked path, which gives the error or, for an expired lease on an
item with room, still accepts the answer. So the function never decides a refusal: it only
writes what the checked path would have written.
"""

from django.db import migrations

SUBMIT_FUNCTION = """
CREATE OR REPLACE FUNCTION dmops_submit(
    p_lease bigint, p_batch_item bigint, p_user integer, p_answer jsonb,
    p_seconds double precision, p_now timestamptz, p_created_at timestamptz,
    p_binary_answers text[], p_pairwise_answers text[]
) RETURNS TABLE (
    annotation_id bigint, item_id bigint, batch_id bigint, schema_version_id bigint,
    guideline_version_id bigint
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r record;
    answer_ok boolean;
    guideline bigint;
    new_annotation bigint;
BEGIN
    SELECT bi.item_id, bi.batch_id, bi.proposed_label, bi.submitted_count, b.overlap,
           b.project_id, sv.id AS schema_id, sv.task_type, l.state, l.expires_at
    INTO r
    FROM annotation_batchitem bi
    JOIN annotation_batch b ON b.id = bi.batch_id
    JOIN annotation_schemaversion sv ON sv.id = b.schema_version_id
    JOIN annotation_lease l ON l.id = p_lease AND l.batch_item_id = bi.id
        AND l.annotator_id = p_user
    WHERE bi.id = p_batch_item
      AND EXISTS (SELECT 1 FROM dmops_membership m
                  WHERE m.project_id = b.project_id AND m.user_id = p_user)
    FOR UPDATE OF bi, l;
    IF NOT FOUND OR r.state <> 'active' OR r.expires_at <= p_now THEN
        RETURN;
    END IF;
    -- answer_validate's rules: an item that proposes a label is a yes/no question.
    IF r.proposed_label <> '' OR r.task_type = 'binary' THEN
        answer_ok := jsonb_typeof(p_answer) = 'string'
            AND (p_answer #>> '{}') = ANY (p_binary_answers);
    ELSIF r.task_type = 'pairwise' THEN
        answer_ok := jsonb_typeof(p_answer) = 'string'
            AND (p_answer #>> '{}') = ANY (p_pairwise_answers);
    ELSIF r.task_type = 'single' THEN
        answer_ok := jsonb_typeof(p_answer) = 'string' AND EXISTS (
            SELECT 1 FROM annotation_label lb
            WHERE lb.schema_version_id = r.schema_id AND lb.key = (p_answer #>> '{}'));
    ELSIF r.task_type = 'multi' THEN
        answer_ok := jsonb_typeof(p_answer) = 'array'
            AND NOT EXISTS (
                SELECT 1 FROM jsonb_array_elements(p_answer) e(v)
                WHERE jsonb_typeof(e.v) <> 'string' OR NOT EXISTS (
                    SELECT 1 FROM annotation_label lb
                    WHERE lb.schema_version_id = r.schema_id AND lb.key = (e.v #>> '{}')))
            AND (SELECT COUNT(DISTINCT e.v) = COUNT(*) FROM jsonb_array_elements(p_answer) e(v));
    ELSE
        answer_ok := false;
    END IF;
    IF NOT answer_ok THEN
        RETURN;
    END IF;
    SELECT g.id INTO guideline FROM annotation_guidelineversion g
    WHERE g.project_id = r.project_id ORDER BY g.number DESC LIMIT 1;
    UPDATE annotation_lease SET state = 'submitted' WHERE id = p_lease;
    UPDATE annotation_batchitem
    SET submitted_count = r.submitted_count + 1, is_complete = r.submitted_count + 1 >= r.overlap
    WHERE id = p_batch_item;
    INSERT INTO annotation_annotation (batch_item_id, batch_id, item_id, annotator_id, answer,
        schema_version_id, guideline_version_id, seconds_spent, created_at)
    VALUES (p_batch_item, r.batch_id, r.item_id, p_user, p_answer, r.schema_id, guideline,
        p_seconds, p_created_at)
    RETURNING id INTO new_annotation;
    RETURN QUERY SELECT new_annotation, r.item_id, r.batch_id, r.schema_id, guideline;
END
$$;
"""


def create_submit_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SUBMIT_FUNCTION)


def drop_submit_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS dmops_submit(bigint, bigint, integer, jsonb, "
            "double precision, timestamptz, timestamptz, text[], text[])"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0016_lease_function"),
    ]

    operations = [migrations.RunPython(create_submit_function, drop_submit_function)]
