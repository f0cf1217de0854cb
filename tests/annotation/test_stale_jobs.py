"""Jobs whose worker died: the sweeper fails imports left running, releases left building and
pre-processing runs left running once they show no sign of life for DMOPS_STALE_JOB_SECONDS,
and leaves live ones alone."""

from __future__ import annotations

import importlib
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from annotation import celery_tasks
from annotation.models import ImportJob, Item, PreprocessingRun, Release, ReleaseRow, Source
from annotation.services import release_build as build_module
from annotation.services import sources as source_services
from annotation.services.release_build import release_build
from annotation.services.releases import release_directory
from annotation.services.stale_jobs import stale_jobs_sweep
from tests.annotation.factories import SourceFactory
from tests.annotation.test_releases import create_release, make_annotated_project

TIMEOUT = 3600


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DMOPS_STALE_JOB_SECONDS = TIMEOUT
    return settings.MEDIA_ROOT


def long_ago() -> timezone.datetime:
    return timezone.now() - timedelta(seconds=TIMEOUT + 60)


def running_import(project, manager, django_capture_on_commit_callbacks) -> ImportJob:
    """A claimed import whose job never ran: as its row looks once its worker was killed."""
    source = SourceFactory(project=project, format=Source.Format.JSONL)
    upload = SimpleUploadedFile("data.jsonl", b'{"text": "Never imported."}\n')
    with django_capture_on_commit_callbacks(execute=False):
        job = source_services.import_job_create(source=source, by=manager, uploaded_file=upload)
    assert source_services.import_job_claim(job_id=job.pk)
    return ImportJob.objects.get(pk=job.pk)


# --- imports ----------------------------------------------------------------------------------


def test_a_stale_running_import_is_failed_and_its_upload_deleted(
    project, manager, media, django_capture_on_commit_callbacks
):
    job = running_import(project, manager, django_capture_on_commit_callbacks)
    upload = Path(media) / job.upload.name
    assert upload.exists()
    ImportJob.objects.filter(pk=job.pk).update(updated_at=long_ago())

    assert stale_jobs_sweep()["imports"] == 1

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.finished_at is not None
    assert job.error == source_services.STALE_IMPORT_ERROR
    assert "nothing was imported" in job.error and "Upload the file again" in job.error
    assert job.upload.name == "" and not upload.exists()
    assert not Item.objects.filter(project=project).exists()


def test_an_import_that_reported_progress_recently_is_left_running(
    project, manager, media, django_capture_on_commit_callbacks
):
    job = running_import(project, manager, django_capture_on_commit_callbacks)
    # Started long ago, but its last progress write is recent: the worker is alive.
    ImportJob.objects.filter(pk=job.pk).update(
        started_at=long_ago(), created_at=long_ago(), updated_at=timezone.now()
    )
    assert stale_jobs_sweep()["imports"] == 0
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.error == ""
    assert (Path(media) / job.upload.name).exists()


def test_waiting_and_finished_imports_are_not_swept(
    project, manager, django_capture_on_commit_callbacks
):
    job = running_import(project, manager, django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.SUCCEEDED)
    waiting = running_import(project, manager, django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=waiting.pk).update(status=ImportJob.Status.PENDING)
    ImportJob.objects.update(updated_at=long_ago())
    assert stale_jobs_sweep()["imports"] == 0
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.SUCCEEDED
    assert ImportJob.objects.get(pk=waiting.pk).status == ImportJob.Status.PENDING


def test_claiming_an_import_sets_its_heartbeat(
    project, manager, django_capture_on_commit_callbacks
):
    before = timezone.now()
    job = running_import(project, manager, django_capture_on_commit_callbacks)
    assert job.updated_at >= before and job.started_at == job.updated_at


def test_a_redelivered_import_task_leaves_a_swept_job_failed(
    project, manager, django_capture_on_commit_callbacks
):
    job = running_import(project, manager, django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=long_ago())
    stale_jobs_sweep()
    celery_tasks.run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and not Item.objects.exists()


# --- releases ---------------------------------------------------------------------------------


@pytest.fixture
def half_built(project, manager):
    """A building release whose rows and one file were written before its worker died."""
    make_annotated_project(project, manager)
    release = create_release(project, manager, build=False)
    assert build_module._rows_written(release.pk)
    directory = release_directory(release)
    directory.mkdir(parents=True)
    (directory / "train.jsonl").write_text("{}\n")
    Release.objects.filter(pk=release.pk).update(updated_at=long_ago())
    release.refresh_from_db()
    assert release.row_count > 0 and ReleaseRow.objects.filter(release=release).exists()
    return release


def test_a_stale_building_release_is_failed_and_cleaned_up(half_built):
    assert stale_jobs_sweep()["releases"] == 1
    release = Release.objects.get(pk=half_built.pk)
    assert release.status == Release.Status.FAILED
    assert release.error == build_module.STALE_BUILD_ERROR
    assert "nothing was released" in release.error
    assert not ReleaseRow.objects.filter(release=release).exists()
    assert not release.files.exists()
    assert release.row_count == 0 and release.datasheet == {}
    assert not release_directory(release).exists()


def test_a_release_whose_build_reported_recently_is_left_building(half_built):
    build_module._report(half_built, 40, "Writing train.parquet")  # the heartbeat
    assert stale_jobs_sweep()["releases"] == 0
    release = Release.objects.get(pk=half_built.pk)
    assert (release.status, release.progress) == (Release.Status.BUILDING, 40)
    assert release.rows.exists() and release_directory(release).exists()


def test_a_published_release_is_not_swept(project, manager):
    make_annotated_project(project, manager)
    release = create_release(project, manager)
    Release.objects.filter(pk=release.pk).update(updated_at=long_ago())
    assert stale_jobs_sweep()["releases"] == 0
    release.refresh_from_db()
    assert release.status == Release.Status.PUBLISHED and release.files.exists()


def test_a_redelivered_build_leaves_a_swept_release_failed(half_built):
    stale_jobs_sweep()
    release = release_build(release_id=half_built.pk)
    assert release.status == Release.Status.FAILED and not release.rows.exists()


# --- pre-processing runs ----------------------------------------------------------------------


def test_a_stale_preprocessing_run_is_failed_and_a_recent_one_left(project, manager):
    stale = PreprocessingRun.objects.create(project=project, config={}, created_by=manager)
    recent = PreprocessingRun.objects.create(project=project, config={}, created_by=manager)
    PreprocessingRun.objects.filter(pk=stale.pk).update(created_at=long_ago())

    assert stale_jobs_sweep()["preprocessing_runs"] == 1

    stale.refresh_from_db()
    recent.refresh_from_db()
    assert stale.status == PreprocessingRun.Status.FAILED and stale.finished_at is not None
    assert "Start the run again" in stale.error
    assert recent.status == PreprocessingRun.Status.RUNNING and recent.error == ""


# --- the sweep as a whole ---------------------------------------------------------------------


def test_sweeping_twice_fails_each_job_once(
    project, manager, half_built, django_capture_on_commit_callbacks
):
    job = running_import(project, manager, django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=long_ago())
    assert stale_jobs_sweep() == {"imports": 1, "releases": 1, "preprocessing_runs": 0}
    first = (
        ImportJob.objects.values("status", "error", "finished_at").get(pk=job.pk),
        Release.objects.values("status", "error").get(pk=half_built.pk),
    )
    assert stale_jobs_sweep() == {"imports": 0, "releases": 0, "preprocessing_runs": 0}
    assert first == (
        ImportJob.objects.values("status", "error", "finished_at").get(pk=job.pk),
        Release.objects.values("status", "error").get(pk=half_built.pk),
    )


def test_the_timeout_is_the_setting(project, manager, settings, django_capture_on_commit_callbacks):
    job = running_import(project, manager, django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(seconds=90))
    settings.DMOPS_STALE_JOB_SECONDS = 120
    assert stale_jobs_sweep()["imports"] == 0
    settings.DMOPS_STALE_JOB_SECONDS = 60
    assert stale_jobs_sweep()["imports"] == 1


def test_the_default_timeout_outlasts_every_swept_job_s_hard_time_limit(monkeypatch):
    # A live job cannot go without a sign of life for longer than its hard time limit.
    monkeypatch.delenv("DMOPS_STALE_JOB_SECONDS", raising=False)
    default = importlib.reload(importlib.import_module("dmops.settings")).DMOPS_STALE_JOB_SECONDS
    tasks = (
        celery_tasks.run_import_job,
        celery_tasks.build_release,
        celery_tasks.run_preprocessing,
    )
    assert all(default >= 2 * task.time_limit for task in tasks)


def test_beat_runs_the_sweep(project, manager, django_capture_on_commit_callbacks):
    entry = django_settings.CELERY_BEAT_SCHEDULE["sweep-stale-jobs"]
    assert entry["task"] == "annotation.celery_tasks.sweep_stale_jobs"
    assert celery_tasks.sweep_stale_jobs.name == entry["task"]
    job = running_import(project, manager, django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=long_ago())
    assert celery_tasks.sweep_stale_jobs() == {
        "imports": 1,
        "releases": 0,
        "preprocessing_runs": 0,
    }


def test_the_management_command_sweeps(project, manager, django_capture_on_commit_callbacks):
    job = running_import(project, manager, django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=long_ago())
    out = StringIO()
    call_command("sweep_stale_jobs", stdout=out)
    assert "1 imports, 0 releases, 0 preprocessing runs" in out.getvalue()
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.FAILED
