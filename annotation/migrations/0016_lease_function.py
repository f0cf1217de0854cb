"""The queue's lease on PostgreSQL as one function call (annotation/queue.py).

Leasing is a pick with SKIP LOCKED and an insert guarded by a count taken while holding the
pick's row lock; as separate statements that is four round trips (BEGIN, pick, insert, COMMIT)
and ~0.5 ms of the web process's CPU per lease. Called in autocommit, the function is one. In a
VOLATILE PL/pgSQL function under READ COMMITTED every statement takes a fresh snapshot, so the
guard's count sees every lease committed before the lock was granted, exactly as the separate
statements did. SQLite runs the same two statements from annotation/_queue_sql.py; a change to
either must be made to both (a new migration replaces the function).
"""

from django.db import migrations

LEASE_FUNCTION = """
CREATE OR REPLACE FUNCTION dmops_lease(
    p_batch bigint, p_user integer, p_overlap integer, p_now timestamptz,
    p_expires_at timestamptz, p_revisit boolean, p_max_picks integer
) RETURNS TABLE (
    lease_id bigint, batch_item_id bigint, item_id bigint, proposed_label varchar,
    item_text text, item_metadata jsonb
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    picked record;
    new_lease bigint;
BEGIN
    -- A lease lost in a crash just after its commit costs nothing: the item goes back to the
    -- pool when the annotator asks again. This transaction only.
    PERFORM set_config('synchronous_commit', 'off', true);
    FOR attempt IN 1..p_max_picks LOOP
        SELECT bi.id, bi.item_id, bi.proposed_label, i.text, i.metadata INTO picked
        FROM annotation_batchitem bi JOIN annotation_item i ON i.id = bi.item_id
        WHERE bi.batch_id = p_batch AND NOT bi.is_complete AND NOT bi.is_dropped
          AND NOT EXISTS (
                SELECT 1 FROM annotation_lease m
                WHERE m.batch_item_id = bi.id AND m.annotator_id = p_user
                  AND (NOT p_revisit OR NOT m.returnable)
              )
          AND bi.submitted_count + (
                SELECT COUNT(*) FROM annotation_lease l
                WHERE l.batch_item_id = bi.id AND l.state = 'active' AND l.expires_at > p_now
              ) < p_overlap
        ORDER BY bi.priority DESC, bi.id
        LIMIT 1
        FOR UPDATE OF bi SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        INSERT INTO annotation_lease
            (batch_item_id, annotator_id, state, returnable, created_at, expires_at)
        SELECT bi.id, p_user, 'active', false, p_now, p_expires_at
        FROM annotation_batchitem bi
        WHERE bi.id = picked.id
          AND bi.submitted_count + (
                SELECT COUNT(*) FROM annotation_lease l
                WHERE l.batch_item_id = bi.id AND l.state = 'active' AND l.expires_at > p_now
              ) < p_overlap
        ON CONFLICT DO NOTHING
        RETURNING id INTO new_lease;
        IF new_lease IS NOT NULL THEN
            RETURN QUERY SELECT new_lease, picked.id, picked.item_id, picked.proposed_label,
                                picked.text, picked.metadata;
            RETURN;
        END IF;
        -- The item filled up between the pick's snapshot and its lock: pick again.
    END LOOP;
END
$$;
"""


def create_lease_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LEASE_FUNCTION)


def drop_lease_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS dmops_lease(bigint, integer, integer, timestamptz, "
            "timestamptz, boolean, integer)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0015_fewer_hot_path_indexes"),
    ]

    operations = [migrations.RunPython(create_lease_function, drop_lease_function)]
