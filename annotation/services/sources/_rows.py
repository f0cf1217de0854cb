"""The read side of an import: parsed rows with their dedupe hash, counts, and progress."""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.utils import timezone

from annotation.models import ImportJob
from annotation.preprocessing import text_hash
from annotation.sources import ParsedRow, Rejection

logger = logging.getLogger("annotation.services.sources")

Progress = Callable[[int, int], None]  # (rows_read, bytes_read)

#: The report keeps this many rejections with their line and reason; the count is always exact.
MAX_REJECTIONS_KEPT = 1000
#: Progress is considered every this many rows and written at most every PROGRESS_INTERVAL s.
PROGRESS_EVERY_ROWS = 1024
PROGRESS_INTERVAL = 0.5


@dataclass
class Stats:
    rows_read: int = 0
    bytes_read: int = 0
    valid: int = 0
    rejected: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_KEPT:
            self.rejections.append(
                {"line": rejection.line, "code": rejection.code, "reason": rejection.reason}
            )


_blake2b = hashlib.blake2b
_is_normalized = unicodedata.is_normalized


def dedupe_hash(text: str) -> str:
    """:func:`annotation.preprocessing.text_hash` of *text*, with a fast path for text that is
    already normalised (NFC, printable, single inner spaces, no edge spaces), which
    ``normalise`` would return unchanged. Most imported sentences are."""
    if (
        text.isprintable()  # no control, format (zero-width …) or non-ASCII space characters
        and "  " not in text
        and text[:1] != " "
        and text[-1:] != " "
        and _is_normalized("NFC", text)
    ):
        return _blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
    return text_hash(text)


def hashed_rows(
    parsed: Iterable[ParsedRow | Rejection],
    stream: IO[bytes],
    stats: Stats,
    tick: Callable[[], None],
) -> Iterator[tuple[ParsedRow, str]]:
    """Valid rows with their dedupe hash; rejections are counted, progress reported."""
    every = PROGRESS_EVERY_ROWS
    n = 0
    try:
        for row in parsed:
            n += 1
            if type(row) is ParsedRow:
                stats.valid += 1
                yield row, dedupe_hash(row.text)
            else:
                stats.reject(row)
            if n % every == 0:
                stats.rows_read, stats.bytes_read = n, stream.tell()
                tick()
    finally:  # also when the parser fails: the report says how far it got
        stats.rows_read, stats.bytes_read = n, stream.tell()


class ProgressWriter:
    """Publishes progress while the import's transaction is open.

    On PostgreSQL it writes through its own autocommit connection: the import's connection
    would hide the update until commit. The import does not touch the job row before it
    finishes, so this UPDATE never waits on the import's locks. Each write also sets the job's
    heartbeat (``updated_at``), which tells a live import from one whose worker died. SQLite
    allows one writer at a time and the import holds it, so there progress only goes to
    *callback* and the page sees the report at the end.
    """

    def __init__(self, job: ImportJob, stats: Stats, callback: Progress | None) -> None:
        self.job, self.stats, self.callback = job, stats, callback
        self.last = 0.0
        self.conn = None
        self.sql = (
            f"UPDATE {ImportJob._meta.db_table} SET rows_read = %s, bytes_read = %s, "
            "updated_at = %s WHERE id = %s AND status = %s"
        )

    def __enter__(self) -> Callable[[], None]:
        # Inside a caller's transaction the job row may be locked by that transaction, and a
        # second connection would wait for it; progress then shows at the end only.
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self.conn = connections.create_connection(DEFAULT_DB_ALIAS)
            with self.conn.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
        return self.tick

    def __exit__(self, *exc_info) -> None:
        if self.conn is not None:
            self.conn.close()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        rows, read = self.stats.rows_read, self.stats.bytes_read
        if self.conn is not None:
            try:
                with self.conn.cursor() as cursor:
                    cursor.execute(
                        self.sql,
                        (rows, read, timezone.now(), self.job.pk, ImportJob.Status.RUNNING),
                    )
            except DatabaseError:  # progress is a courtesy; never fail an import over it
                logger.warning("Import job %s: progress update failed", self.job.pk, exc_info=True)
                self.conn.close()
                self.conn = None
        if self.callback is not None:
            self.callback(rows, read)
