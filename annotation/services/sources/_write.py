"""The write side of an import: rows into ``Item``, inside the caller's transaction.

PostgreSQL: rows are formatted as COPY text in chunks; a writer thread COPYs each chunk into a
temporary staging table and moves it with ``INSERT … SELECT … ON CONFLICT DO NOTHING``, so the
unique (project, text_hash) constraint does the dedupe against the project and against earlier
rows of the file. Into a project that has no items yet, the rows that are certainly the first
of their hash in the file skip all that and are COPYed straight into the item table (``_fresh``
says which, and why it is safe). The thread lets the server insert one chunk while Python parses
the next; the queue between them holds at most ``QUEUE_CHUNKS`` chunks, so memory does not grow
with the file.

Elsewhere (SQLite, development): ``bulk_create(ignore_conflicts=True)`` in batches.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import orjson
from django.db import connection
from django.utils import timezone

from annotation.models import ImportJob, Item, Source
from annotation.services.sources._fresh import FirstSeen, claim_project
from annotation.sources import ParsedRow
from dmops.models import Project

CHUNK_ROWS = 10_000
QUEUE_CHUNKS = 2
BULK_BATCH = 2000

# (rows for COPY into the item table, their number, rows for the staging table)
_Chunk = tuple[bytes, int, bytes]

_STAGED = ("position", "external_id", "text", "text_hash", "metadata", "weak_labels")


class SourceDeleted(Exception):
    """The job's source or project was deleted before the import could lock it."""


def insert_rows(
    job: ImportJob, rows: Iterator[tuple[ParsedRow, str]], *, own_transaction: bool
) -> int:
    """Write *rows* as items of *job*; the number created (the rest were duplicates).

    *own_transaction*: the import's transaction is not nested in a caller's, so it may change
    that transaction's settings.
    """
    lock_parents(job)
    if connection.vendor == "postgresql":
        return _insert_postgresql(job, rows, own_transaction)
    return _insert_batches(job, rows)


def lock_parents(job: ImportJob) -> None:
    """Lock the job's project and source rows until the import's transaction ends, or raise
    :class:`SourceDeleted` if either is gone.

    Item has no database foreign keys to them (their per-row checks were a third of an
    import's database time), so this one lock does what those checks did: a concurrent
    deletion of either row waits for the import to end. FOR KEY SHARE, the lock those checks
    took, blocks only deleting the row or changing its id, never an ordinary UPDATE of a
    project. SQLite has no row locks; there the import's transaction holds the database's one
    write lock from its first write, and this read makes a deletion committed in between fail
    that write.
    """
    project, source = Project._meta.db_table, Source._meta.db_table
    sql = (
        f"SELECT 1 FROM {project} p JOIN {source} s ON s.project_id = p.id "
        "WHERE p.id = %s AND s.id = %s"
    )
    if connection.vendor == "postgresql":
        sql += " FOR KEY SHARE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [job.project_id, job.source_id])
        if cursor.fetchone() is None:
            raise SourceDeleted(f"import job {job.pk}: its source or project was deleted")


def _item_constants(job: ImportJob) -> tuple[list[str], list[str], list[Any]]:
    """Columns of Item not in the staging table, with their SQL and parameters: the job's ids,
    ``raw_text`` (= text), the creation time, and every other field's model default, so a field
    added to Item later is filled in too."""
    given = {
        "project": job.project_id,
        "source": job.source_id,
        "import_job": job.pk,
        "created_at": timezone.now(),
    }
    columns, sql, params = [], [], []
    for f in Item._meta.concrete_fields:
        if f.primary_key or f.column in _STAGED:
            continue
        columns.append(f.column)
        if f.name == "raw_text":
            sql.append("s.text")
            continue
        value = given[f.name] if f.name in given else f.get_default()
        sql.append("%s")
        params.append(f.get_db_prep_save(value, connection))
    return columns, sql, params


def _dumps(value: Any) -> str:
    """JSON for a jsonb column. orjson is several times faster than json; it does not take
    integers over 64 bits, which json writes as they are (the parsers turn NaN into null)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _copy_text(value: str) -> str:
    """Escape a value for COPY's text format (backslash, tab, newline, carriage return)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _direct_copy(columns: list[str], values: list[str], params: list[Any]):
    """The COPY into the item table for rows that cannot conflict, and each line's tail after
    the staged columns: raw_text (= text) is given per row, the constants rendered once by the
    server as COPY text."""
    others = [(c, v) for c, v in zip(columns, values, strict=True) if c != "raw_text"]
    with connection.cursor() as cursor:
        rendered = ", ".join(f"({v})::text" for _, v in others)
        cursor.execute(f"SELECT {rendered}", params)
        constants = cursor.fetchone()
    tail = "".join("\t" + (r"\N" if c is None else _copy_text(c)) for c in constants) + "\n"
    copy = (
        f"COPY {Item._meta.db_table} ({', '.join(_STAGED)}, raw_text, "
        f"{', '.join(c for c, _ in others)}) FROM STDIN"
    )
    return copy, tail


def _insert_postgresql(
    job: ImportJob, rows: Iterator[tuple[ParsedRow, str]], own_transaction: bool
) -> int:
    stage = f"import_stage_{job.pk}"
    staged = ", ".join(_STAGED)
    columns, values, params = _item_constants(job)
    insert = (
        f"INSERT INTO {Item._meta.db_table} ({staged}, {', '.join(columns)}) "
        f"SELECT {', '.join('s.' + c for c in _STAGED)}, {', '.join(values)} FROM {stage} s "
        "ORDER BY s.position ON CONFLICT (project_id, text_hash) DO NOTHING"
    )
    with connection.cursor() as cursor:
        fast = claim_project(cursor, job.project_id)
        cursor.execute(
            f"CREATE TEMP TABLE {stage} (position bigint, external_id text, text text, "
            "text_hash text, metadata jsonb, weak_labels jsonb) ON COMMIT DROP"
        )
        if own_transaction:
            # Not waiting for the WAL flush at commit is safe here: a server crash in the
            # moment after the commit can only lose this import as a whole, never corrupt
            # data or touch other transactions. The import is all or nothing anyway, and its
            # job's SUCCEEDED goes with it (the job reads as interrupted, as after a worker
            # crash mid-import). LOCAL: this transaction only.
            cursor.execute("SET LOCAL synchronous_commit = off")
            # Each chunk's ORDER BY sorts CHUNK_ROWS rows; the default 4 MB spills to disk
            # once rows carry some metadata.
            cursor.execute("SET LOCAL work_mem = '64MB'")
    direct, tail = _direct_copy(columns, values, params) if fast else ("", "")
    writer = _ChunkWriter(
        connection.connection,
        direct=direct,
        copy=f"COPY {stage} ({staged}) FROM STDIN",
        insert=(insert, params),
        reset=f"TRUNCATE {stage}",
    )
    writer.start()
    first_seen = FirstSeen() if fast else None
    dumps, esc = _dumps, _copy_text
    lines: list[str] = []  # the staged columns, tab-separated, without the newline
    texts: list[str] = []
    digests: list[str] = []

    def send() -> None:
        if first_seen is None:
            writer.send((b"", 0, ("\n".join(lines) + "\n").encode()))
            return
        fresh = first_seen.first(digests).tolist()
        direct = [
            f"{line}\t{text}{tail}" for line, text, f in zip(lines, texts, fresh, strict=True) if f
        ]
        rest = [line for line, f in zip(lines, fresh, strict=True) if not f]
        writer.send(
            ("".join(direct).encode(), len(direct), "".join(f"{r}\n" for r in rest).encode())
        )

    try:
        for row, digest in rows:
            metadata = esc(dumps(row.metadata)) if row.metadata else "{}"
            weak = esc(dumps(row.weak_labels)) if row.weak_labels else "[]"
            text = esc(row.text)
            lines.append(
                f"{row.line}\t{esc(row.external_id)}\t{text}\t{digest}\t{metadata}\t{weak}"
            )
            texts.append(text)
            digests.append(digest)
            if len(lines) >= CHUNK_ROWS:
                send()
                lines, texts, digests = [], [], []
        if lines:
            send()
        created = writer.finish()
    except BaseException:
        writer.abort()  # let the statement in flight end before the caller rolls back
        raise
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {stage}")
    return created


class _ChunkWriter(threading.Thread):
    """Writes each chunk on the import's connection: its rows that cannot conflict by COPY
    straight into the item table, the others by COPY into the staging table, then INSERT …
    ON CONFLICT and TRUNCATE.

    The parsing thread does not use the connection while this thread is alive; psycopg
    connections are thread-safe in any case. An error here is raised in the parsing thread at
    its next ``send`` or at ``finish``.
    """

    def __init__(
        self, conn, *, direct: str, copy: str, insert: tuple[str, list[Any]], reset: str
    ) -> None:
        super().__init__(name="import-writer", daemon=True)
        self.conn = conn
        self.direct_sql, self.copy_sql, self.insert, self.reset_sql = direct, copy, insert, reset
        self.chunks: queue.Queue[_Chunk | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.created = 0
        self.error: BaseException | None = None
        self.cancelled = False

    def run(self) -> None:
        try:
            with self.conn.cursor() as cursor:
                while (chunk := self.chunks.get()) is not None and not self.cancelled:
                    direct, count, staged = chunk
                    if direct:
                        with cursor.copy(self.direct_sql) as copy:
                            copy.write(direct)
                        self.created += count
                    if staged:
                        with cursor.copy(self.copy_sql) as copy:
                            copy.write(staged)
                        cursor.execute(*self.insert)
                        self.created += cursor.rowcount
                        cursor.execute(self.reset_sql)
        except BaseException as exc:  # noqa: BLE001 - handed to the parsing thread
            self.error = exc

    def send(self, chunk: _Chunk | None) -> None:
        while True:
            if self.error is not None:
                raise self.error
            if not self.is_alive():
                raise RuntimeError("the import writer stopped unexpectedly")
            try:
                self.chunks.put(chunk, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> int:
        self.send(None)
        self.join()
        if self.error is not None:
            raise self.error
        return self.created

    def abort(self) -> None:
        """Stop after the statement in flight; queued chunks are discarded."""
        self.cancelled = True
        while self.is_alive():
            with contextlib.suppress(queue.Full):
                self.chunks.put(None, timeout=0.2)
            self.join(timeout=0.2)


def _insert_batches(job: ImportJob, rows: Iterator[tuple[ParsedRow, str]]) -> int:
    """``bulk_create(ignore_conflicts=True)``: rows go in in file order, batch after batch, so
    the first occurrence of a hash wins."""
    batch: list[Item] = []
    for row, digest in rows:
        batch.append(
            Item(
                project_id=job.project_id,
                source_id=job.source_id,
                import_job_id=job.pk,
                position=row.line,
                external_id=row.external_id,
                text=row.text,
                raw_text=row.text,
                text_hash=digest,
                metadata=row.metadata,
                weak_labels=list(row.weak_labels),
            )
        )
        if len(batch) >= BULK_BATCH:
            Item.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        Item.objects.bulk_create(batch, ignore_conflicts=True)
    return Item.objects.filter(import_job=job).count()
