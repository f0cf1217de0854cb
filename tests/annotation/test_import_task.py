"""Step 2 imports as Celery jobs: claimed once, queued on commit, progress while they run."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DEFAULT_DB_ALIAS, connection, connections

from annotation.celery_tasks import run_import_job
from annotation.models import ImportJob, Item
from annotation.services import sources as services
from annotation.services.sources import _rows
from tests.annotation.test_import_service import media_root, new_source  # noqa: F401 - fixture

# --- the task ---------------------------------------------------------------------------------


def test_running_the_task_twice_imports_once(project, manager):
    source = new_source(project, manager)
    upload = SimpleUploadedFile("d.jsonl", b'{"text": "Once."}\n')
    job = services.import_job_create(source=source, by=manager, uploaded_file=upload)
    run_import_job(job.pk)
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and job.items_created == 1
    assert Item.objects.count() == 1
    assert services.import_job_run(job_id=job.pk) is None  # finished: nothing to do


def test_an_unclaimed_job_is_not_run(project, manager):
    source = new_source(project, manager)
    upload = SimpleUploadedFile("d.jsonl", b'{"text": "Waiting."}\n')
    job = services.import_job_create(source=source, by=manager, uploaded_file=upload)
    assert services.import_job_run(job_id=job.pk) is None
    assert services.import_job_claim(job_id=job.pk) is True
    assert services.import_job_claim(job_id=job.pk) is False


def test_the_import_is_queued_on_commit(project, manager, django_capture_on_commit_callbacks):
    source = new_source(project, manager)
    upload = SimpleUploadedFile("d.jsonl", b'{"text": "Queued."}\n')
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = services.import_job_create(source=source, by=manager, uploaded_file=upload)
        assert Item.objects.count() == 0  # nothing before the commit
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and job.finished_at >= job.started_at


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_other_connections_while_the_import_runs(
    project, manager, monkeypatch
):
    monkeypatch.setattr(_rows, "PROGRESS_EVERY_ROWS", 100)
    monkeypatch.setattr(_rows, "PROGRESS_INTERVAL", 0)
    source = new_source(project, manager)
    content = b"".join(b'{"text": "Row %d."}\n' % i for i in range(1000))
    upload = SimpleUploadedFile("d.jsonl", content)
    job = services.import_job_create(source=source, by=manager, uploaded_file=upload)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.PENDING)  # undo eager run
    Item.objects.all().delete()
    job.upload.save("again.jsonl", SimpleUploadedFile("d.jsonl", content))  # it was deleted
    assert services.import_job_claim(job_id=job.pk)
    seen = []

    def observe(rows_read, bytes_read):
        # What a polling page sees: another connection, outside the import's transaction.
        other = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with other.cursor() as cursor:
                cursor.execute(
                    "SELECT status, rows_read, bytes_read FROM annotation_importjob WHERE id = %s",
                    [job.pk],
                )
                status, rows, read = cursor.fetchone()
                cursor.execute("SELECT count(*) FROM annotation_item")
                items = cursor.fetchone()[0]
        finally:
            other.close()
        seen.append((rows_read, status, rows, read, items))

    services.import_job_run(job_id=job.pk, progress=observe)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and job.items_created == 1000
    assert len(seen) == 10
    for rows_read, status, rows, read, items in seen:
        assert status == ImportJob.Status.RUNNING
        assert rows == rows_read > 0 and 0 < read <= len(content)
        assert items == 0  # the items stay invisible until the import commits


def test_progress_callback_is_called_on_sqlite_too(project, manager, monkeypatch):
    monkeypatch.setattr(_rows, "PROGRESS_EVERY_ROWS", 2)
    monkeypatch.setattr(_rows, "PROGRESS_INTERVAL", 0)
    source = new_source(project, manager)
    upload = SimpleUploadedFile("d.jsonl", b'{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n')
    job = services.import_job_create(source=source, by=manager, uploaded_file=upload)
    services.import_job_claim(job_id=job.pk)
    calls = []
    services.import_job_run(job_id=job.pk, progress=lambda rows, read: calls.append(rows))
    assert calls == [2]
