"""Step 12: the release build job (building → published or failed) and the release pages
that start it and poll it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from annotation import celery_tasks
from annotation.exports import parquet
from annotation.models import Item, Release, ReleaseFile, ReleaseRow
from annotation.services import release_build as build_module
from annotation.services.release_build import build_plan, release_build
from annotation.services.releases import release_directory
from tests.annotation.test_releases import LIMITS, create_release, make_annotated_project
from tests.dmops.test_celery_worker import REDIS_URL
from tests.dmops.test_celery_worker import worker as worker  # the real-worker fixture


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def annotated(project, manager):
    return make_annotated_project(project, manager)


def test_a_new_release_is_building_with_no_rows_until_its_job_runs(
    project, manager, annotated, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        release = create_release(project, manager, build=False)
    assert (release.status, release.row_count, release.progress) == ("building", 0, 0)
    assert not ReleaseRow.objects.filter(release=release).exists()
    assert len(callbacks) == 1  # the build job, queued for after commit
    callbacks[0]()
    release.refresh_from_db()
    assert release.status == Release.Status.PUBLISHED and release.progress == 100
    assert release.row_count == 36 == release.rows.count()
    assert release.files.count() == len(build_plan())
    assert release.published_at is not None and release.datasheet["sections"]


def test_the_job_reports_its_stages(project, manager, annotated, monkeypatch):
    release = create_release(project, manager, build=False)
    seen = []
    report = build_module._report

    def spy(release, percent, stage):
        report(release, percent, stage)
        row = Release.objects.get(pk=release.pk)
        seen.append((row.progress, row.stage))

    monkeypatch.setattr(build_module, "_report", spy)
    release_build(release_id=release.pk)
    assert seen[0] == (0, "Selecting rows and final labels")
    assert [p for p, _ in seen] == sorted(p for p, _ in seen) and seen[-1][0] < 100
    assert "Writing all.json" in seen[-1][1]


def test_a_failed_build_leaves_nothing_released(project, manager, annotated, monkeypatch):
    release = create_release(project, manager, build=False)

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    # JSONL and CSV files are written first; the Parquet one fails.
    monkeypatch.setattr(parquet, "write_parquet", disk_full)
    release = release_build(release_id=release.pk)
    assert release.status == Release.Status.FAILED
    assert "No space left on device" in release.error
    assert not ReleaseRow.objects.filter(release=release).exists()
    assert not ReleaseFile.objects.filter(release=release).exists()
    assert release.row_count == 0 and release.datasheet == {}
    assert not release_directory(release).exists()


def test_a_release_with_no_final_label_fails_with_the_reason(project, manager, annotated):
    # The request checks only that something was labelled; what the job selects decides.
    release = create_release(project, manager, build=False)
    Item.objects.filter(project=project).update(is_active=False)
    release = release_build(release_id=release.pk)
    assert release.status == Release.Status.FAILED
    assert "nothing to release" in release.error


def test_running_the_job_twice_changes_nothing(project, manager, annotated):
    release = create_release(project, manager)
    files = {(f.format, f.split): (f.sha256, f.pk) for f in release.files.all()}
    rows = list(release.rows.values_list("pk", flat=True))
    again = celery_tasks.build_release.delay(release.pk)  # eager in tests: runs here
    assert again.successful()
    release.refresh_from_db()
    assert release.status == Release.Status.PUBLISHED
    assert {(f.format, f.split): (f.sha256, f.pk) for f in release.files.all()} == files
    assert list(release.rows.values_list("pk", flat=True)) == rows


def test_a_rerun_after_the_rows_were_written_builds_only_the_files(
    project, manager, annotated, monkeypatch
):
    # A worker died after committing the rows: the redelivered job must not insert them again.
    release = create_release(project, manager, build=False)
    monkeypatch.setattr(build_module, "_write_files", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        release_build(release_id=release.pk)
    release.refresh_from_db()
    assert release.status == Release.Status.BUILDING and release.row_count == 36
    monkeypatch.undo()
    release = release_build(release_id=release.pk)
    assert release.status == Release.Status.PUBLISHED
    assert release.rows.count() == 36 and release.files.count() == len(build_plan())


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt  # like a worker killed mid-build: not an error the job handles


def test_a_failed_or_published_release_is_left_alone(project, manager, annotated):
    release = create_release(project, manager, build=False)
    Release.objects.filter(pk=release.pk).update(status=Release.Status.FAILED, error="x")
    assert release_build(release_id=release.pk).status == Release.Status.FAILED
    assert not ReleaseRow.objects.filter(release=release).exists()
    assert release_build(release_id=999999) is None


# --- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("manager", 200), ("reviewer", 200), ("annotator", 403), ("outsider", 403)],
)
def test_release_pages_permissions(
    client, project, manager, annotated, personas, persona, expected
):
    release = create_release(project, manager)
    client.force_login(personas[persona])
    for url in (
        reverse("releases", args=[project.pk]),
        reverse("release", args=[project.pk, release.number]),
        reverse("release", args=[project.pk, release.number]) + "?fragment=status",
    ):
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == expected, url


def test_anonymous_is_sent_to_login(client, project, manager, annotated):
    response = client.get(reverse("releases", args=[project.pk]))
    assert response.status_code == 302 and "login" in response.url


@pytest.mark.parametrize("persona", ["reviewer", "annotator", "outsider"])
def test_only_managers_create_releases_from_the_page(client, project, annotated, personas, persona):
    client.force_login(personas[persona])
    response = client.post(reverse("releases", args=[project.pk]), {"known_limitations": "x"})
    assert response.status_code == 403
    assert not Release.objects.exists()


def test_manager_creates_a_release_and_the_page_polls_until_it_is_built(
    client, project, manager, annotated, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    page = client.get(reverse("releases", args=[project.pk]))
    assert b"New release" in page.content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("releases", args=[project.pk]),
            {"train": 0.8, "dev": 0.1, "test": 0.1, "seed": "", "known_limitations": LIMITS},
        )
    assert response.status_code == 302
    release = Release.objects.get()
    assert release.status == Release.Status.BUILDING
    building = client.get(response.url)
    assert b'hx-trigger="every 1s"' in building.content and b"<progress" in building.content
    fragment = client.get(response.url + "?fragment=status", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b'hx-trigger="every 1s"' in fragment.content
    callbacks[0]()  # the job runs
    done = client.get(response.url + "?fragment=status", HTTP_HX_REQUEST="true")
    assert b"hx-trigger" not in done.content  # polling stops
    assert b"Datasheet" in done.content
    assert release.files.first().sha256.encode() in done.content


def test_a_failed_release_page_shows_the_error(client, project, manager, annotated):
    release = create_release(project, manager, build=False)
    Release.objects.filter(pk=release.pk).update(status=Release.Status.FAILED, error="disk full")
    client.force_login(manager)
    page = client.get(reverse("release", args=[project.pk, release.number]))
    assert b"Nothing was released" in page.content and b"disk full" in page.content
    assert b"hx-trigger" not in page.content


def test_reviewer_sees_no_create_form(client, project, reviewer, annotated):
    client.force_login(reviewer)
    assert b"New release" not in client.get(reverse("releases", args=[project.pk])).content


# --- a real worker (CI sets DMOPS_TEST_REDIS_URL; PostgreSQL only) ----------------------------


@pytest.fixture
def release_worker(request, monkeypatch, tmp_path, settings):
    """tests/dmops/test_celery_worker.py's worker, writing release files where we look."""
    if not REDIS_URL:
        pytest.skip("set DMOPS_TEST_REDIS_URL to run a real worker")
    media = tmp_path / "worker-media"
    monkeypatch.setenv("MEDIA_ROOT", str(media))
    settings.MEDIA_ROOT = media
    request.getfixturevalue("worker")  # started after MEDIA_ROOT is in its environment
    return REDIS_URL


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_builds_and_publishes_a_release(
    project, manager, annotated, release_worker
):
    from celery.backends.redis import RedisBackend
    from celery.result import AsyncResult

    from dmops.celery import app as celery_app

    # The on-commit enqueue would go through the app's cached in-process connection: hold it
    # back and send the job to the worker explicitly, as test_celery_worker.py does.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(celery_tasks.build_release, "delay", lambda release_id: None)
        release = create_release(project, manager, build=False)
    assert release.status == Release.Status.BUILDING
    backend = RedisBackend(app=celery_app, url=release_worker)
    with celery_app.connection_for_write(release_worker) as conn:
        sent = celery_app.send_task(
            "annotation.celery_tasks.build_release", args=[release.pk], connection=conn
        )
    AsyncResult(sent.id, backend=backend).get(timeout=180)
    release.refresh_from_db()
    assert release.status == Release.Status.PUBLISHED, release.error
    assert release.rows.count() == 36 and release.files.count() == len(build_plan())
    for built in release.files.all():
        assert (release_directory(release) / Path(built.path).name).is_file()
