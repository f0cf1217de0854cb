"""Items have no database foreign keys to their project and source (migration 0011): what keeps
them from being orphaned. The ORM's CASCADE, the import's lock on its parents, and on
PostgreSQL the deferred guard that refuses to commit a parent's deletion while items remain."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from annotation.models import ImportJob, Item, Source
from annotation.services import sources as services
from annotation.services.sources import _write
from annotation.services.sources._fresh import claim_project
from annotation.services.sources._rows import dedupe_hash
from annotation.sources import ParsedRow
from dmops.models import Project
from tests.annotation.factories import import_bytes


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def imported_source(project, manager, n: int = 3) -> Source:
    source = services.source_create(
        project=project, by=manager, name="s", format="jsonl", licence=Source.Licence.CC0
    )
    content = b"".join(b'{"text": "Row %d."}\n' % i for i in range(n))
    assert import_bytes(source=source, by=manager, content=content).items_created == n
    return source


def rows(n: int, prefix: str = "Row"):
    for i in range(n):
        text = f"{prefix} {i}."
        yield ParsedRow(i + 1, text), dedupe_hash(text)


@pytest.mark.django_db
def test_deleting_a_source_or_a_project_deletes_its_items(project, manager):
    source = imported_source(project, manager)
    source.delete()
    assert not Item.objects.filter(source_id=source.pk).exists()
    source = imported_source(project, manager)  # the same rows: no longer duplicates
    project.delete()
    assert not Item.objects.filter(source_id=source.pk).exists()
    assert Item.objects.count() == 0


@pytest.mark.django_db
def test_the_import_locks_its_project_and_source_before_writing(project, manager):
    source = imported_source(project, manager, n=1)
    job = ImportJob.objects.create(project=project, source=source, file_name="f")
    with CaptureQueriesContext(connection) as queries:
        _write.insert_rows(job, rows(2, "Other"), own_transaction=False)
    lock = next(q["sql"] for q in queries.captured_queries if "JOIN" in q["sql"])
    assert queries.captured_queries[0]["sql"] == lock  # before anything is written
    if connection.vendor == "postgresql":
        assert lock.endswith("FOR KEY SHARE")


@pytest.mark.django_db
def test_an_import_whose_source_is_gone_writes_nothing(project, manager):
    source = imported_source(project, manager, n=1)
    job = ImportJob(pk=10**9, project_id=project.pk, source_id=source.pk + 1000)
    with pytest.raises(_write.SourceDeleted):
        _write.insert_rows(job, rows(3, "Orphan"), own_transaction=False)
    assert not Item.objects.filter(text__startswith="Orphan").exists()


def _delete_in_another_connection(project_id: int, outcome: dict, lock_timeout: str = "") -> None:
    try:
        with transaction.atomic():
            if lock_timeout:
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{lock_timeout}'")
            Project.objects.get(pk=project_id).delete()
        outcome["deleted"] = True
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        outcome["error"] = exc
    finally:
        connections.close_all()


def _wait_for_a_lock_wait(seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else fixed for the transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the deletion never waited for the import's lock")


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lock_timeout", ["200ms", ""])
def test_a_project_deleted_while_an_import_writes_is_not_orphaned(project, manager, lock_timeout):
    """With a lock timeout the deletion gives up while the import holds its lock. Without one it
    waits, and having collected the items before the import committed more, it is refused at
    its commit by the deferred guard instead of leaving those items behind."""
    source = Source.objects.create(project=project, name="s", format="jsonl")
    job = ImportJob.objects.create(project=project, source=source, file_name="f")
    outcome: dict = {}
    deleter = threading.Thread(
        target=_delete_in_another_connection, args=(project.pk, outcome, lock_timeout)
    )
    with transaction.atomic():
        created = _write.insert_rows(job, rows(5), own_transaction=False)
        deleter.start()
        if lock_timeout:
            deleter.join(10)
        else:
            _wait_for_a_lock_wait()
    deleter.join(10)
    expected = OperationalError if lock_timeout else IntegrityError
    assert isinstance(outcome.get("error"), expected), outcome
    if not lock_timeout:
        assert "annotation_item still has rows with source_id" in str(outcome["error"])
    assert Project.objects.filter(pk=project.pk).exists()
    assert Item.objects.filter(project=project, source=source).count() == created == 5


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_only_one_import_at_a_time_skips_on_conflict_and_only_into_an_empty_project(
    project, manager
):
    outcome: dict = {}

    def second_import() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
                outcome["fast"] = claim_project(cursor, project.pk)
        except OperationalError as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    with transaction.atomic(), connection.cursor() as cursor:
        assert claim_project(cursor, project.pk) is True
        other = threading.Thread(target=second_import)
        other.start()
        other.join(10)
    assert "lock timeout" in str(outcome.get("error")), outcome  # it waited for the first
    imported_source(project, manager, n=1)
    with transaction.atomic(), connection.cursor() as cursor:
        assert claim_project(cursor, project.pk) is False  # the project has items now
