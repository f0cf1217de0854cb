"""Step 2 — Secure Raw Data: sources with their provenance, and all-or-nothing imports.

Rules enforced here:

* Only a project manager adds a source, uploads a file or waives an unknown licence.
* An upload over ``settings.DMOPS_MAX_IMPORT_BYTES`` is refused before anything is stored. A
  gzip, bzip2 or xz upload (told by its first bytes) is decompressed as it is read, and fails
  if it decompresses to more than that limit.
* An import is all or nothing. It runs in one transaction, so a fatal format error (bad JSON,
  a missing column, wrong encoding, an empty file) leaves no item behind, and the job records
  what is wrong and on which line.
* A row whose normalised-text hash equals an item already in the project, or an earlier row of
  the same file, is a duplicate: dropped and counted, the first occurrence wins. The hash is
  :func:`annotation.preprocessing.text_hash`, the same key step 3 dedupes on.
* The uploaded file is deleted when the import ends, whatever the outcome.

The import reads the file as a stream (``_rows``: parse, hash, count, report progress through
a second connection) and writes as it goes (``_write``: COPY on PostgreSQL, batches elsewhere),
so the worker's memory does not depend on the file's size. Duplicates = valid rows - items
created: the database's unique (project, text_hash) constraint decides.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from annotation.models import ImportJob, Source
from annotation.services.sources._rows import (
    Progress,
    ProgressWriter,
    Stats,
    dedupe_hash,
    hashed_rows,
)
from annotation.services.sources._write import SourceDeleted, insert_rows
from annotation.sources import ImportFormatError, ParseOptions, get_parser
from annotation.sources.compression import open_decompressed
from dmops.errors import DomainError
from dmops.models import Project

logger = logging.getLogger(__name__)

__all__ = [
    "FORMAT_OPTIONS",
    "LANGUAGES",
    "Progress",
    "clean_options",
    "dedupe_hash",
    "import_job_claim",
    "import_job_create",
    "import_job_run",
    "import_jobs_fail_stale",
    "parse_options",
    "source_create",
    "source_create_with_upload",
    "source_waive_licence",
]

_TEXT_OPTIONS = ("text_field", "id_field", "metadata_fields")
_WIKI_OPTIONS = ("language", "min_words")
FORMAT_OPTIONS: dict[str, tuple[str, ...]] = {
    "csv": (*_TEXT_OPTIONS, "delimiter", "quoting"),
    "tsv": (*_TEXT_OPTIONS, "delimiter", "quoting"),
    "json": _TEXT_OPTIONS,
    "jsonl": _TEXT_OPTIONS,
    "labelstudio": _TEXT_OPTIONS,
    "text": (),
    "wikitext": ("title", *_WIKI_OPTIONS),
    "rendered_wiki": ("title", *_WIKI_OPTIONS),
    "mediawiki_xml": _WIKI_OPTIONS,
}
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl", "ru", "da", "el", "bg", "sk", "kk")


def _require_manager(project: Project, user, action: str) -> None:
    if not project.is_manager(user):
        raise PermissionDenied(f"Only a project manager can {action}.")


# --- sources ----------------------------------------------------------------------------------


def clean_options(format: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """The parser options for *format*, checked and normalised; blank values are dropped.

    Refuses options the format does not read, so a typo fails now rather than at import time.
    """
    allowed = FORMAT_OPTIONS.get(format)
    if allowed is None:
        raise DomainError({"format": f"Unknown format {format!r}."})
    given = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        known = ", ".join(allowed) or "none"
        message = f"{', '.join(unknown)} not used by the {format} format (it reads: {known})."
        raise DomainError({"options": message})
    cleaned: dict[str, Any] = {}
    for key, value in given.items():
        if key in ("text_field", "id_field", "title"):
            if not isinstance(value, str) or not value.strip():
                raise DomainError({"options": f"{key} must be a non-empty string."})
            cleaned[key] = value.strip()
        elif key == "metadata_fields":
            if isinstance(value, str):
                value = [v for v in (part.strip() for part in value.split(",")) if v]
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise DomainError({"options": "metadata_fields must be a list of column names."})
            cleaned[key] = list(value)
        elif key == "delimiter":
            value = "\t" if value in ("\\t", "tab") else value
            if not isinstance(value, str) or len(value) != 1 or value in '"\r\n':
                raise DomainError({"options": "delimiter must be one character, e.g. ; or \\t."})
            cleaned[key] = value
        elif key == "quoting":
            if not isinstance(value, bool):
                raise DomainError({"options": "quoting must be true or false."})
            cleaned[key] = value
        elif key == "language":
            if value not in LANGUAGES:
                raise DomainError({"options": f"language must be one of {', '.join(LANGUAGES)}."})
            cleaned[key] = value
        elif key == "min_words":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DomainError({"options": "min_words must be a whole number ≥ 0."})
            cleaned[key] = value
    return cleaned


def parse_options(source: Source) -> ParseOptions:
    """What the parser reads from each record of *source*; wiki titles default to its name."""
    options = dict(source.options)
    if "metadata_fields" in options:
        options["metadata_fields"] = tuple(options["metadata_fields"])
    if "title" in FORMAT_OPTIONS[source.format]:
        options.setdefault("title", source.name)
    return ParseOptions(**options)


@transaction.atomic
def source_create(
    *,
    project: Project,
    by,
    name: str,
    format: str,
    licence: str = Source.Licence.UNKNOWN,
    licence_text: str = "",
    origin_url: str = "",
    collected_on=None,
    notes: str = "",
    options: dict[str, Any] | None = None,
) -> Source:
    """Record a body of raw data with its provenance. Managers only; the format must be a known
    one and its parser options valid for it. An unknown licence is allowed but blocks step 2's
    gate until a manager waives it."""
    _require_manager(project, by, "add a source")
    source = Source(
        project=project,
        name=name.strip(),
        format=format,
        licence=licence,
        licence_text=licence_text.strip(),
        origin_url=origin_url.strip(),
        collected_on=collected_on,
        notes=notes.strip(),
        options=clean_options(format, options),
        created_by=by,
    )
    try:
        source.full_clean(exclude=["project", "created_by"])
    except ValidationError as exc:
        raise DomainError(exc.message_dict) from exc
    source.save()
    return source


@transaction.atomic
def source_waive_licence(*, source: Source, by, reason: str) -> Source:
    """Accept a source whose licence is unknown, giving the reason. Managers only; a source with
    a known licence needs no waiver, and a waiver needs a reason."""
    _require_manager(source.project, by, "waive a licence")
    if source.licence != Source.Licence.UNKNOWN:
        raise DomainError(f"{source.name} has a known licence; there is nothing to waive.")
    reason = reason.strip()
    if not reason:
        raise DomainError(
            {"reason": "Say why this data may be used although its licence is unknown."}
        )
    source.licence_waiver = reason
    source.save(update_fields=["licence_waiver"])
    return source


# --- import jobs ------------------------------------------------------------------------------


@transaction.atomic
def import_job_create(*, source: Source, by, uploaded_file) -> ImportJob:
    """Store an upload and queue its import. Managers only; refused when the file is larger than
    ``DMOPS_MAX_IMPORT_BYTES``. The import starts once this transaction commits."""
    _require_manager(source.project, by, "upload data")
    limit = settings.DMOPS_MAX_IMPORT_BYTES
    size = uploaded_file.size or 0
    if size > limit:
        raise DomainError(
            {"file": f"The file is {size:,} bytes; the import limit is {limit:,} bytes."}
        )
    file_name = os.path.basename(uploaded_file.name or "upload")[:255]
    job = ImportJob(
        project=source.project, source=source, file_name=file_name, file_size=size, created_by=by
    )
    job.upload.save(file_name, uploaded_file, save=False)
    job.save()
    from annotation.celery_tasks import run_import_job

    transaction.on_commit(lambda: run_import_job.delay(job.pk))
    return job


@transaction.atomic
def source_create_with_upload(
    *, project: Project, by, uploaded_file, **fields
) -> tuple[Source, ImportJob]:
    """A new source and its first import, together or not at all (an oversized file leaves no
    empty source behind)."""
    source = source_create(project=project, by=by, **fields)
    return source, import_job_create(source=source, by=by, uploaded_file=uploaded_file)


def import_job_claim(*, job_id: int) -> bool:
    """Move a waiting job to running; False if it is not waiting (already claimed or done).

    A conditional UPDATE, so two workers given the same job cannot both run it.
    """
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING, started_at=now, updated_at=now
    )
    return claimed == 1


def import_job_run(*, job_id: int, progress: Progress | None = None) -> ImportJob | None:
    """Import a claimed (running) job's file into items, all or nothing, and write its report.

    Returns None if the job is not running (never claimed, or finished). A fatal format error
    fails the job with the message and line; any other error fails it too, is logged, and
    leaves no items. The upload is deleted in every case. *progress* is called with
    ``(rows_read, bytes_read)`` as the import goes.
    """
    job = (
        ImportJob.objects.select_related("source", "project")
        .filter(pk=job_id, status=ImportJob.Status.RUNNING, finished_at=None)
        .first()
    )
    if job is None:
        return None
    stats = Stats()
    started = time.monotonic()
    own_transaction = not connection.in_atomic_block
    try:
        with (
            ProgressWriter(job, stats, progress) as tick,
            _open_upload(job) as upload,
            transaction.atomic(),
        ):
            # The upload limit bounds the decompressed data too (a decompression bomb);
            # progress is measured on the upload, the size the page knows.
            stream, compression = open_decompressed(
                upload, max_bytes=settings.DMOPS_MAX_IMPORT_BYTES
            )
            with stream:
                parser = get_parser(job.source.format)
                rows = hashed_rows(parser(stream, parse_options(job.source)), upload, stats, tick)
                created = insert_rows(job, rows, own_transaction=own_transaction)
            _finish(job, stats, ImportJob.Status.SUCCEEDED, created=created)
        logger.info(
            "Import job %s: %s records, %s items created, %s duplicates, %s rejected in %.1f s%s",
            job.pk, job.rows_read, created, job.duplicates, job.rejected,
            time.monotonic() - started, f" ({compression})" if compression else "",
        )  # fmt: skip
    except SourceDeleted:
        # The job row went with its source or project: there is nothing left to report to.
        logger.info("Import job %s: its source or project was deleted; nothing imported", job.pk)
        return None
    except ImportFormatError as exc:
        _finish(job, stats, ImportJob.Status.FAILED, error=exc.message, line=exc.line)
    except Exception as exc:  # noqa: BLE001 - the job must end failed, whatever went wrong
        logger.exception("Import job %s failed", job.pk)
        _finish(job, stats, ImportJob.Status.FAILED, error=_describe(exc))
    finally:
        _delete_upload(job)
    return job


STALE_IMPORT_ERROR = (
    "The worker stopped before the import finished; nothing was imported. Upload the file again."
)


def import_jobs_fail_stale(*, before: datetime) -> int:
    """Fail every running import whose heartbeat (``updated_at``) is older than *before*: its
    worker died, or it would have written progress. Its transaction died with it, so nothing
    was imported; the upload is deleted as on any failure. Each job is failed by a conditional
    UPDATE, so one that reports progress meanwhile is left running. Returns how many failed."""
    stale = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, updated_at__lt=before)
    failed = 0
    for job in stale.only("pk", "upload"):
        now = timezone.now()
        if stale.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED,
            error=STALE_IMPORT_ERROR,
            finished_at=now,
            updated_at=now,
        ):
            _delete_upload(job)
            failed += 1
    return failed


def _describe(exc: Exception) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, SoftTimeLimitExceeded):
        return "The import took longer than the time limit and was stopped; nothing was imported."
    if isinstance(exc, FileNotFoundError):
        return "The uploaded file is missing from storage; upload it again."
    return f"The import failed unexpectedly ({type(exc).__name__}); nothing was imported."


def _finish(
    job: ImportJob,
    stats: Stats,
    status: str,
    *,
    created: int = 0,
    error: str = "",
    line: int | None = None,
) -> None:
    job.status, job.finished_at = status, timezone.now()
    job.rows_read, job.bytes_read = stats.rows_read, stats.bytes_read
    job.items_created = created
    job.duplicates = stats.valid - created if status == ImportJob.Status.SUCCEEDED else 0
    job.rejected, job.rejections = stats.rejected, stats.rejections
    job.error, job.error_line = error, line
    if status == ImportJob.Status.SUCCEEDED:
        job.bytes_read = job.file_size
    job.save(
        update_fields=[
            "status",
            "finished_at",
            "rows_read",
            "bytes_read",
            "items_created",
            "duplicates",
            "rejected",
            "rejections",
            "error",
            "error_line",
        ]
    )


def _open_upload(job: ImportJob) -> IO[bytes]:
    try:
        return open(default_storage.path(job.upload.name), "rb", buffering=1 << 20)  # noqa: SIM115
    except NotImplementedError:  # a storage without local paths (S3 …)
        return default_storage.open(job.upload.name, "rb")


def _delete_upload(job: ImportJob) -> None:
    if job.upload.name:
        try:
            default_storage.delete(job.upload.name)
        except OSError:
            logger.warning("Could not delete the upload of import job %s", job.pk, exc_info=True)
        ImportJob.objects.filter(pk=job.pk).update(upload="")
        job.upload.name = ""
