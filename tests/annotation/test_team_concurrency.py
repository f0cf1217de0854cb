"""Pausing under real concurrency (PostgreSQL): a manager pauses and resumes annotators while
they label. Pausing locks batch items then leases, as the queue and submit do, so nothing
deadlocks, and the exact-N invariant holds whatever the interleaving. A pause and a lease
handed out at the same instant are ordered by the pause lock: either the lease is released by
the pause, or next_item waits for the pause and gives nothing."""

from __future__ import annotations

import importlib
import threading
import time

import pytest
from django.db import connection, transaction
from django.db.models import Count, F

from annotation import queue
from annotation.models import Annotation, BatchItem, Lease
from annotation.services import labelling
from annotation.services import team as team_services
from tests.annotation.builders import annotators_on, make_batch, make_items
from tests.annotation.test_queue_concurrency import postgres_only, run_in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
__all__ = ["postgres_only"]  # the autouse fixture, imported so it applies here too


def test_pausing_while_annotators_label_keeps_exactly_n_and_never_deadlocks(project, manager):
    overlap = 2
    make_batch(project, make_items(project, 30), overlap=overlap)
    annotators = annotators_on(project, 4)
    stop = threading.Event()
    conflicts = []

    def work(user) -> None:
        if user == manager:
            for _ in range(5):
                for annotator in annotators:
                    team_services.annotator_pause(project=project, by=manager, user=annotator)
                    team_services.annotator_pause(
                        project=project, by=manager, user=annotator, paused=False
                    )
            team_services.annotator_pause(project=project, by=manager, user=annotators[0])
            stop.set()
            return
        while not stop.is_set():
            lease = queue.next_item(project=project, annotator=user)
            if lease is None:
                time.sleep(0.005)  # paused, or nothing free this instant: a client retries
                continue
            try:
                labelling.annotation_submit(lease=lease, by=user, answer="yes")
            except labelling.QueueConflict:
                conflicts.append(user.pk)  # released by a pause between lease and submit

    run_in_threads([manager, *annotators], work)

    assert not BatchItem.objects.filter(submitted_count__gt=overlap).exists()
    counted = BatchItem.objects.annotate(n=Count("annotations"))
    assert not counted.exclude(n=F("submitted_count")).exists()
    assert not counted.filter(n__gte=overlap, is_complete=False).exists()
    repeated = (
        Annotation.objects.values("batch_item", "annotator").annotate(n=Count("pk")).filter(n__gt=1)
    )
    assert not repeated.exists()
    # The pause lock orders every lease against the pause: none of annotators[0]'s survives.
    assert not Lease.objects.filter(annotator=annotators[0], state=Lease.State.ACTIVE).exists()
    assert queue.next_item(project=project, annotator=annotators[0]) is None
    assert Annotation.objects.exists()


def in_thread(work, results: dict, key: str) -> threading.Thread:
    def run() -> None:
        try:
            results[key] = work()
        except BaseException as exc:  # noqa: BLE001 — handed back to the test thread
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_until_blocked_or_done(thread: threading.Thread) -> None:
    """Until ``thread`` waits on an advisory lock in PostgreSQL, or has finished (which a test
    then finds wrong). Polls: a lock wait is seen only in pg_stat_activity."""
    deadline = time.monotonic() + 30
    while thread.is_alive() and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)


def test_next_item_waits_for_a_pause_in_progress_and_gives_nothing(project, manager, annotator):
    make_batch(project, make_items(project, 3))
    paused, finish = threading.Event(), threading.Event()
    results: dict = {}

    def pause():
        with transaction.atomic():
            team_services.annotator_pause(project=project, by=manager, user=annotator)
            paused.set()
            finish.wait(30)

    pausing = in_thread(pause, results, "pause")
    assert paused.wait(30)
    leasing = in_thread(
        lambda: queue.next_item(project=project, annotator=annotator), results, "lease"
    )
    wait_until_blocked_or_done(leasing)
    finish.set()
    pausing.join(30)
    leasing.join(30)
    assert not isinstance(results["pause"], BaseException), results["pause"]
    assert results["lease"] is None
    assert not Lease.objects.filter(annotator=annotator).exists()


def test_a_lease_handed_out_as_the_pause_begins_is_released_by_it(project, manager, annotator):
    make_batch(project, make_items(project, 3))
    leased, finish = threading.Event(), threading.Event()
    results: dict = {}

    def lease():
        with transaction.atomic():  # the lease's transaction stays open while the pause starts
            given = queue.next_item(project=project, annotator=annotator)
            leased.set()
            finish.wait(30)
        return given

    leasing = in_thread(lease, results, "lease")
    assert leased.wait(30)

    def pause():
        return team_services.annotator_pause(project=project, by=manager, user=annotator)

    pausing = in_thread(pause, results, "pause")
    wait_until_blocked_or_done(pausing)
    finish.set()
    leasing.join(30)
    pausing.join(30)
    assert not isinstance(results["pause"], BaseException), results["pause"]
    lease = Lease.objects.get(pk=results["lease"].pk)
    assert lease.state == Lease.State.RELEASED


def test_the_function_takes_the_lock_class_the_pause_takes():
    migration = importlib.import_module("annotation.migrations.0018_next_item_function")
    assert f"pg_advisory_xact_lock_shared({queue.PAUSE_LOCK_CLASS}, p_user)" in (
        migration.NEXT_ITEM_FUNCTION
    )
