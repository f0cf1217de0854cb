"""Step 12: the Celery job that turns a *building* release into a published one.

All or nothing, safe to run twice:

1. **Rows.** Under a row lock on the release, if it is still building and has no rows yet,
   one INSERT … SELECT writes its rows and the datasheet is generated — one transaction, so a
   failure leaves no row behind. A second run (redelivered task, double click) waits on the
   lock, then finds the rows written and skips to the files.
2. **Files.** Every export file (JSONL/CSV/Parquet per split, Label Studio whole) is written
   once into a scratch folder of this run, with its SHA-256, reading the rows from a
   server-side cursor. Nothing is recorded yet, so the release shows no file.
3. **Publish.** Under the lock, if still building: the files move into place, their
   ``ReleaseFile`` rows are written, the release becomes *published* and the webhook event is
   queued — one transaction. A run that finds the release already published drops its copies.

Any error marks the release *failed* with the message and deletes its rows and files: a failed
release is listed (its number stays used, so v3 always means the same thing) but holds no data.
Progress (percent and stage) is written in autocommit between steps, so the page's poll sees it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.exports import get_exporter
from annotation.models import RELEASE_SPLITS, Release, ReleaseFile, ReleaseRow
from annotation.services.releases import release_directory, release_fields, release_rows_write
from dmops.errors import DomainError

logger = logging.getLogger(__name__)

SPLIT_FORMATS = ("jsonl", "csv", "parquet")  # one file per split: load_dataset's layout
WHOLE_FORMATS = ("labelstudio",)  # one file with every row
ROWS_SHARE = 10  # percent of the progress bar for writing the rows; the files get the rest


def build_plan() -> list[tuple[str, str]]:
    """(format, split) of every file a release gets; split "" means every row."""
    return [(f, s) for f in SPLIT_FORMATS for s in RELEASE_SPLITS] + [
        (f, "") for f in WHOLE_FORMATS
    ]


def release_build(*, release_id: int) -> Release | None:
    """Build and publish a building release (see the module docstring). Returns the release
    as it ends up; a release that is not building (published, failed, gone) is left alone."""
    release = Release.objects.select_related("project").filter(pk=release_id).first()
    if release is None or release.status != Release.Status.BUILDING:
        return release
    scratch: Path | None = None
    try:
        _report(release, 0, "Selecting rows and final labels")
        if not _rows_written(release_id):
            return Release.objects.filter(pk=release_id).first()
        release.refresh_from_db()
        scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=_mkdir(release_directory(release))))
        built = _write_files(release, scratch)
        _publish(release, scratch, built)
    except Exception as exc:  # noqa: BLE001 - the release must end failed, whatever went wrong
        logger.exception("Building release %s failed", release_id)
        _fail(release, exc)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return Release.objects.filter(pk=release_id).first()


def _rows_written(release_id: int) -> bool:
    """Write the rows unless an earlier run did; False if the release stopped building."""
    with transaction.atomic():
        # Lock only the release: the project row stays free for other writes (numbering the
        # next release, step sign-offs) during an INSERT that can take minutes.
        locked = (
            Release.objects.select_for_update(of=("self",))
            .select_related("project")
            .filter(pk=release_id, status=Release.Status.BUILDING)
            .first()
        )
        if locked is None:
            return False
        if locked.row_count == 0:
            release_rows_write(locked)
    return True


def _write_files(release: Release, scratch: Path) -> list[tuple[str, str, str, object]]:
    from annotation.selectors.releases import release_row_dicts

    fields = release_fields(release)
    plan = build_plan()
    total_rows = sum(
        release.row_count if not s else release.split_counts.get(s, 0) for _, s in plan
    )
    done_rows, built = 0, []
    for fmt, split in plan:
        exporter = get_exporter(fmt)
        name = exporter.filename(split or "all")
        share = ROWS_SHARE + (100 - ROWS_SHARE - 1) * done_rows // max(total_rows, 1)
        _report(release, share, f"Writing {name}")
        rows = release_row_dicts(release, split or None, fmt=fmt, fields=fields)
        result = exporter.write_file(rows, scratch / name, fields)
        built.append((fmt, split, name, result))
        done_rows += result.row_count
    return built


@transaction.atomic
def _publish(release: Release, scratch: Path, built: list) -> None:
    locked = (
        Release.objects.select_for_update().filter(pk=release.pk, status=Release.Status.BUILDING)
    ).first()
    if locked is None:  # another run published (or failed) it meanwhile: keep its files
        return
    directory = release_directory(release)
    for fmt, split, name, result in built:
        path = directory / name
        os.replace(scratch / name, path)
        ReleaseFile.objects.update_or_create(
            release=release,
            format=fmt,
            split=split,
            defaults={
                "path": os.path.relpath(path, settings.MEDIA_ROOT),
                "sha256": result.sha256,
                "byte_count": result.byte_count,
                "row_count": result.row_count,
            },
        )
    locked.status, locked.published_at = Release.Status.PUBLISHED, timezone.now()
    locked.progress, locked.stage, locked.error = 100, "", ""
    locked.save(update_fields=["status", "published_at", "progress", "stage", "error"])
    from annotation.services.webhooks import release_published_notify

    release_published_notify(release=locked)


STALE_BUILD_ERROR = (
    "The worker stopped before the build finished; nothing was released. Create the release again."
)


def releases_fail_stale(*, before: datetime) -> int:
    """Fail every building release whose last progress report (``updated_at``) is older than
    *before* and whose row no build holds: its worker died. It is cleaned up as any failed
    build is (``release_build_fail``). Returns how many failed."""
    with transaction.atomic():
        # A build writing rows holds the row for minutes without reporting: skip it.
        stale = list(
            Release.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("project")
            .filter(status=Release.Status.BUILDING, updated_at__lt=before)
        )
    return sum(
        release_build_fail(release=release, error=STALE_BUILD_ERROR, stale_before=before)
        for release in stale
    )


def _fail(release: Release, exc: Exception) -> None:
    release_build_fail(release=release, error=_describe(exc))


def release_build_fail(
    *, release: Release, error: str, stale_before: datetime | None = None
) -> bool:
    """Mark a building release failed with *error* and delete its rows and files; False if it
    is not building any more (published, failed or gone), and then nothing is touched. With
    *stale_before*, only if its last progress report is older than that: a build that
    reported since is alive and is left alone."""
    with transaction.atomic():
        building = Release.objects.filter(pk=release.pk, status=Release.Status.BUILDING)
        if stale_before is not None:
            building = building.filter(updated_at__lt=stale_before)
        failed = building.update(
            status=Release.Status.FAILED, error=error, stage="Failed", updated_at=timezone.now()
        )
        if failed:
            ReleaseFile.objects.filter(release_id=release.pk).delete()
            ReleaseRow.objects.filter(release_id=release.pk).delete()
            Release.objects.filter(pk=release.pk).update(row_count=0, split_counts={}, datasheet={})
    if failed:
        shutil.rmtree(release_directory(release), ignore_errors=True)
    return bool(failed)


def _describe(exc: Exception) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, DomainError):
        return "; ".join(exc.messages)
    if isinstance(exc, SoftTimeLimitExceeded):
        return "The build took longer than the time limit and was stopped; nothing was released."
    return f"The build failed unexpectedly ({type(exc).__name__}: {exc})"[:2000]


def _report(release: Release, percent: int, stage: str) -> None:
    # Autocommit between steps (the job holds no transaction here), so the poll sees it now.
    # It is also the build's heartbeat (stale_jobs.py): no live build goes longer without one
    # than the job's hard time limit.
    Release.objects.filter(pk=release.pk, status=Release.Status.BUILDING).update(
        progress=percent, stage=stage, updated_at=timezone.now()
    )


def _mkdir(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory
