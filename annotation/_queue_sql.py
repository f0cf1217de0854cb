"""The statements of the queue (annotation/queue.py), written out in SQL: every annotator runs
them once per judgement, and building them through the ORM cost more CPU than PostgreSQL spends
running them. They run unchanged on SQLite, where FOR UPDATE … SKIP LOCKED is left out. Each
round trip costs the web process ~0.1 ms of CPU, so a statement reads all a step needs."""

from __future__ import annotations

from annotation.models import AnnotatorState, Batch, BatchItem, Item, Lease, QualificationRule
from dmops.models import Membership, Project

_LEASE = Lease._meta.db_table
_ITEM = BatchItem._meta.db_table
_BATCH = Batch._meta.db_table
_STATE = AnnotatorState._meta.db_table
_RULE = QualificationRule._meta.db_table
_MEMBERSHIP = Membership._meta.db_table
_PROJECT = Project._meta.db_table
_ITEM_TABLE = Item._meta.db_table
# Written into the statements, not passed as a parameter: the partial indexes on active leases
# (lease_annotator_active, lease_one_active) serve a prepared statement's generic
# plan only when the planner can prove their predicate from the statement's text. With a
# parameter, the current-lease read scanned every lease the annotator ever had.
_ACTIVE = Lease.State.ACTIVE.value

# What the labelling screen shows of a leased item, read with the lease so that serving it takes
# no further query: the batch item, its item's text and metadata, and its batch.
SCREEN_COLUMNS = (
    "bi.id, bi.item_id, bi.proposed_label, i.text, i.metadata, "
    "b.id, b.name, b.kind, b.schema_version_id"
)

CURRENT_LEASE = f"""
    SELECT l.id, l.returnable, l.created_at, l.expires_at, b.lease_ttl,
           {SCREEN_COLUMNS}
    FROM {_LEASE} l
    JOIN {_ITEM} bi ON bi.id = l.batch_item_id
    JOIN {_BATCH} b ON b.id = bi.batch_id
    JOIN {_ITEM_TABLE} i ON i.id = bi.item_id
    WHERE l.annotator_id = %(user)s AND l.state = '{_ACTIVE}' AND l.expires_at > %(now)s
      AND b.project_id = %(project)s AND b.is_open
    ORDER BY l.created_at, l.id
    LIMIT 1
"""  # noqa: S608


# The annotator's own leases that keep an item from them: all of them for a first visit;
# on a revisit, all but requeue_me_later skips. PICK and INSERT_LEASE are what SQLite runs;
# PostgreSQL runs its own copy of the two in dmops_lease (migration 0016). Change both together.
PICK = f"""
    SELECT bi.id, bi.item_id, bi.proposed_label, i.text, i.metadata
    FROM {_ITEM} bi JOIN {_ITEM_TABLE} i ON i.id = bi.item_id
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


# PostgreSQL runs all of next_item, NEXT_STATE's reads and the renewal or the lease, as one call
# of this function (migration 0018 holds it, with its own copy of queue._refusal); SQLite runs
# NEXT_STATE, RENEW and the lease from queue.py.
NEXT_ITEM_BY_FUNCTION = """
    SELECT * FROM dmops_next_item(%(project)s, %(user)s, %(now)s, %(members_only)s,
                                  %(max_picks)s)
"""

RENEW = f"""
    UPDATE {_LEASE} SET expires_at = %s WHERE id = %s AND state = '{_ACTIVE}' AND expires_at > %s
"""  # noqa: S608

INSERT_LEASE = f"""
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


# Everything next_item reads before it leases, in one round trip: the caller's role, the
# refusal's inputs, their current lease with its screen, and the open batches in queue order
# (one row per open batch; one row of NULLs for them when none is open; no row when there is
# no such project).
NEXT_STATE = f"""
    SELECT m.role, s.paused, s.qualified_at,
           EXISTS (SELECT 1 FROM {_RULE} r WHERE r.project_id = p.id),
           c.*,
           ob.id, ob.overlap, ob.lease_ttl, ob.skip_policy, ob.name, ob.kind,
           ob.schema_version_id
    FROM {_PROJECT} p
    LEFT JOIN {_MEMBERSHIP} m ON m.project_id = p.id AND m.user_id = %(user)s
    LEFT JOIN {_STATE} s ON s.project_id = p.id AND s.user_id = %(user)s
    LEFT JOIN ({CURRENT_LEASE}) c ON 1 = 1
    LEFT JOIN {_BATCH} ob ON ob.project_id = p.id AND ob.is_open
    WHERE p.id = %(project)s
    ORDER BY ob.priority DESC, ob.id
"""  # noqa: S608
CURRENT_LEASE_WIDTH = 14  # the columns of CURRENT_LEASE
