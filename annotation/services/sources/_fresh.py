"""Which imported rows can skip ``ON CONFLICT``: the PostgreSQL import's fast path.

``INSERT … ON CONFLICT DO NOTHING`` from a staging table costs PostgreSQL ~50 % more per row
than a ``COPY`` straight into the item table (the staging COPY, the executor, the sort and the
conflict pre-check; bench/README.md, "Import"). COPY cannot skip duplicates, so it is used only
for rows that are certainly not duplicates:

* the project had no items when the import started, and no other import can add any until
  this one ends (:func:`claim_project`); and
* the row is the first in the file with its hash, as far as a one-hash Bloom filter can tell
  (:class:`FirstSeen`). Its false positives only send a row down the ``ON CONFLICT`` path,
  which is always correct; it never lets a duplicate through.

Everything else goes through the staging table and ``ON CONFLICT``, as before.
"""

from __future__ import annotations

import numpy as np

from annotation.models import Item

# pg_advisory_xact_lock(class, project id): the key space of "imports into a project".
_LOCK_CLASS = 0x494D_5054  # "IMPT"
# 2**27 bits = 16 MB whatever the file's size; after 1 M distinct rows 0.75 % of slots are
# taken, so about 0.4 % of a million-row file's rows take the slower path by mistake.
_FILTER_BITS = 27


def claim_project(cursor, project_id: int) -> bool:
    """True if this import alone may add items to an empty project until its transaction ends.

    Every import takes the project's advisory lock: the first one exclusively, if it can have
    it at once, any other shared (waiting for an exclusive holder to finish). Imports are the
    only writers of items, so an exclusive holder that found no items cannot meet a conflict.
    """
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, project_id])
    if not cursor.fetchone()[0]:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [_LOCK_CLASS, project_id])
        return False
    table = Item._meta.db_table
    cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table} WHERE project_id = %s)", [project_id])
    return cursor.fetchone()[0]


class FirstSeen:
    """A one-hash Bloom filter over the dedupe hashes of the rows seen so far in one file."""

    def __init__(self) -> None:
        self.bits = np.zeros(1 << (_FILTER_BITS - 3), dtype=np.uint8)
        self.mask = (1 << _FILTER_BITS) - 1

    def first(self, digests: list[str]) -> np.ndarray:
        """For each of *digests* (the next rows, in file order): True if no earlier row of the
        file had that digest. False may be wrong (then the row merely takes the slow path);
        True never is."""
        slots = np.fromiter(map(hash, digests), dtype=np.int64, count=len(digests)) & self.mask
        index, bit = slots >> 3, (slots & 7).astype(np.uint8)
        fresh = ((self.bits[index] >> bit) & 1) == 0
        # A slot's second and later rows within these digests are not first either.
        _, first_index = np.unique(slots, return_index=True)
        once = np.zeros(len(digests), dtype=bool)
        once[first_index] = True
        np.bitwise_or.at(self.bits, index, np.left_shift(np.uint8(1), bit))
        return fresh & once
