"""next_item on PostgreSQL as one function call (annotation/queue.py).

next_item read who may work, their current lease and the open batches (one statement), then
renewed that lease or called ``dmops_lease``: two round trips per item, and each costs the web
process more CPU than PostgreSQL spends on its part. ``dmops_next_item`` does the same reads and
writes in one call, in the same order, and calls ``dmops_lease`` (migration 0016) for the pick.

It also takes the pause lock (``queue.PAUSE_LOCK_CLASS``) before it reads anything, so a
pause and a lease handed out at the same instant are ordered.

It decides the refusals, so it holds a copy of the rule in ``queue._refusal``: paused, or an
annotator who has not qualified in a project with a qualification rule. SQLite runs the Python
(annotation/_queue_sql.py NEXT_STATE and queue.py); a test runs every combination of role,
pause, rule and qualification through both and compares them, so the copies cannot drift
unnoticed. A change to either must be made to both (a new migration replaces the function).
"""

from django.db import migrations

NEXT_ITEM_FUNCTION = """
CREATE OR REPLACE FUNCTION dmops_next_item(
    p_project bigint, p_user integer, p_now timestamptz, p_members_only boolean,
    p_max_picks integer
) RETURNS TABLE (
    outcome text, lease_id bigint, lease_returnable boolean, lease_created_at timestamptz,
    lease_expires_at timestamptz, batch_lease_ttl integer, batch_item_id bigint,
    item_id bigint, proposed_label varchar, item_text text, item_metadata jsonb,
    batch_id bigint, batch_name varchar, batch_kind varchar, batch_schema_version_id bigint
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    st record;
    cur record;
    ob record;
    leased record;
BEGIN
    -- Shared with every other next_item of this user, exclusive with a pause or removal of
    -- them (queue.PAUSE_LOCK_CLASS): that waits for this transaction's lease, or this reads
    -- it. Each statement after it takes a fresh snapshot (VOLATILE, READ COMMITTED).
    PERFORM pg_advisory_xact_lock_shared(1346458963, p_user);
    SELECT m.role, s.paused, s.qualified_at,
           EXISTS (SELECT 1 FROM annotation_qualificationrule r WHERE r.project_id = p.id)
               AS has_rule
    INTO st
    FROM dmops_project p
    LEFT JOIN dmops_membership m ON m.project_id = p.id AND m.user_id = p_user
    LEFT JOIN annotation_annotatorstate s ON s.project_id = p.id AND s.user_id = p_user
    WHERE p.id = p_project;
    IF NOT FOUND THEN
        outcome := 'no_project';
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_members_only AND st.role IS NULL THEN
        outcome := 'not_member';
        RETURN NEXT;
        RETURN;
    END IF;
    -- queue._refusal: managers and reviewers write the gold answers, so only annotators must
    -- qualify.
    IF st.paused THEN
        outcome := 'paused';
        RETURN NEXT;
        RETURN;
    END IF;
    IF st.has_rule AND st.role = 'annotator' AND st.qualified_at IS NULL THEN
        outcome := 'not_qualified';
        RETURN NEXT;
        RETURN;
    END IF;

    -- The current lease comes back, renewed, while it is still live: once expired, its slot
    -- may be someone else's.
    SELECT l.id, l.returnable, l.created_at, b.lease_ttl, bi.id AS bi_id, bi.item_id,
           bi.proposed_label, i.text, i.metadata, b.id AS b_id, b.name, b.kind,
           b.schema_version_id
    INTO cur
    FROM annotation_lease l
    JOIN annotation_batchitem bi ON bi.id = l.batch_item_id
    JOIN annotation_batch b ON b.id = bi.batch_id
    JOIN annotation_item i ON i.id = bi.item_id
    WHERE l.annotator_id = p_user AND l.state = 'active' AND l.expires_at > p_now
      AND b.project_id = p_project AND b.is_open
    ORDER BY l.created_at, l.id
    LIMIT 1;
    IF FOUND THEN
        UPDATE annotation_lease
        SET expires_at = p_now + make_interval(secs => cur.lease_ttl)
        WHERE id = cur.id AND state = 'active' AND expires_at > p_now;
        IF FOUND THEN
            RETURN QUERY SELECT 'current'::text, cur.id, cur.returnable, cur.created_at,
                p_now + make_interval(secs => cur.lease_ttl), cur.lease_ttl, cur.bi_id,
                cur.item_id, cur.proposed_label::varchar, cur.text, cur.metadata, cur.b_id,
                cur.name::varchar, cur.kind::varchar, cur.schema_version_id;
            RETURN;
        END IF;
    END IF;

    -- New items first, batch by batch in queue order; then what the annotator put back under
    -- requeue_me_later.
    FOR revisit IN 0..1 LOOP
        FOR ob IN
            SELECT b.id, b.overlap, b.lease_ttl, b.name, b.kind, b.schema_version_id
            FROM annotation_batch b
            WHERE b.project_id = p_project AND b.is_open
              AND (revisit = 0 OR b.skip_policy = 'requeue_me_later')
            ORDER BY b.priority DESC, b.id
        LOOP
            SELECT * INTO leased FROM dmops_lease(
                ob.id, p_user, ob.overlap, p_now, p_now + make_interval(secs => ob.lease_ttl),
                revisit = 1, p_max_picks);
            IF FOUND THEN
                RETURN QUERY SELECT 'leased'::text, leased.lease_id, false, p_now,
                    p_now + make_interval(secs => ob.lease_ttl), ob.lease_ttl,
                    leased.batch_item_id, leased.item_id, leased.proposed_label::varchar,
                    leased.item_text, leased.item_metadata, ob.id, ob.name::varchar,
                    ob.kind::varchar, ob.schema_version_id;
                RETURN;
            END IF;
        END LOOP;
    END LOOP;
    outcome := 'empty';
    RETURN NEXT;
END
$$;
"""


def create_next_item_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NEXT_ITEM_FUNCTION)


def drop_next_item_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS dmops_next_item(bigint, integer, timestamptz, boolean, "
            "integer)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0017_submit_function"),
    ]

    operations = [migrations.RunPython(create_next_item_function, drop_next_item_function)]
