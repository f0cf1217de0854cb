"""Pausing against a lease being handed out, on SQLite, which has neither row nor advisory locks
(PostgreSQL orders the two with an advisory lock: test_team_concurrency.py). Every transaction
begins IMMEDIATE there (settings.py), so next_item's read of who may work and its lease are one
write-locked step: a pause cannot come between them and be overtaken by the lease."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection

from annotation import queue
from annotation.models import AnnotatorState, Lease
from annotation.services import team as team_services
from tests.annotation.builders import make_batch, make_items
from tests.annotation.test_team_concurrency import in_thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def sqlite_only(db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's ordering; PostgreSQL's is tested in test_team_concurrency.py")


def test_a_pause_waits_for_a_lease_being_handed_out_and_then_releases_it(
    project, manager, annotator, monkeypatch
):
    make_batch(project, make_items(project, 3))
    has_read, may_lease = threading.Event(), threading.Event()
    read_state = queue._next_state

    def read_then_hold(*args):
        # The lease is held back after next_item has read that the annotator may work.
        state = read_state(*args)
        has_read.set()
        may_lease.wait(30)
        return state

    monkeypatch.setattr(queue, "_next_state", read_then_hold)
    results: dict = {}
    leasing = in_thread(
        lambda: queue.next_item(project=project, annotator=annotator), results, "lease"
    )
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        patience = cursor.fetchone()[0]
    try:
        assert has_read.wait(30)
        # The pause would wait for the lease's transaction; told not to wait, it is refused
        # whole instead of pausing someone who is about to be given an item.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 0")
        with pytest.raises(OperationalError, match="locked"):
            team_services.annotator_pause(project=project, by=manager, user=annotator)
        assert not AnnotatorState.objects.filter(user=annotator, paused=True).exists()
    finally:
        may_lease.set()
        leasing.join(30)
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(patience)}")
    lease = results["lease"]
    assert isinstance(lease, Lease), lease

    team_services.annotator_pause(project=project, by=manager, user=annotator)

    assert Lease.objects.get(pk=lease.pk).state == Lease.State.RELEASED
    assert queue.next_item(project=project, annotator=annotator) is None
