"""The queue's invariants under real concurrency: threads, each with its own PostgreSQL
connection, racing for the same items (SKIP LOCKED needs PostgreSQL; skipped on SQLite)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection
from django.utils import timezone

from annotation import queue
from annotation.models import Annotation, BatchItem, Lease
from annotation.services import labelling as services
from tests.annotation.builders import annotators_on, make_batch, make_items

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks with SKIP LOCKED")


def run_in_threads(users: list, work: Callable) -> None:
    """Run ``work(user)`` in one thread per user, all released at once; re-raise any error."""
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def run(user) -> None:
        try:
            barrier.wait()
            work(user)
        except BaseException as exc:  # noqa: BLE001 — handed back to the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def next_or_none(project, user, *, patience: float = 0.3):
    """``next_item``, retried briefly: SKIP LOCKED answers "nothing" while the only free items
    are locked by other pickers for a moment, and a client retries then."""
    deadline = time.monotonic() + patience
    while True:
        lease = queue.next_item(project=project, annotator=user)
        if lease is not None or time.monotonic() > deadline:
            return lease
        time.sleep(0.01)


def test_every_item_ends_with_exactly_n_annotations_by_different_annotators(project):
    overlap, n_items = 3, 40
    make_batch(project, make_items(project, n_items), overlap=overlap)
    users = annotators_on(project, 12)

    def label(user) -> None:
        while lease := next_or_none(project, user):
            services.annotation_submit(lease=lease, by=user, answer="yes", seconds_spent=1)

    run_in_threads(users, label)

    per_item = Counter(Annotation.objects.values_list("batch_item_id", flat=True))
    assert len(per_item) == n_items and set(per_item.values()) == {overlap}
    pairs = list(Annotation.objects.values_list("batch_item_id", "annotator_id"))
    assert len(pairs) == len(set(pairs))
    assert set(BatchItem.objects.values_list("submitted_count", "is_complete")) == {(overlap, True)}
    assert not Lease.objects.filter(state=Lease.State.ACTIVE).exists()


def test_last_item_goes_to_exactly_n_of_many_annotators(project):
    overlap = 3
    make_batch(project, make_items(project, 1), overlap=overlap)
    users = annotators_on(project, 20)
    got: list = []

    def grab(user) -> None:
        if next_or_none(project, user, patience=1.0) is not None:
            got.append(user.pk)

    run_in_threads(users, grab)

    assert len(got) == overlap == len(set(got))
    live = queue.live_leases(timezone.now())
    assert sorted(live.values_list("annotator_id", flat=True)) == sorted(got)


def test_many_annotators_racing_for_the_last_slots_then_submitting(project):
    overlap = 2
    make_batch(project, make_items(project, 3), overlap=overlap)
    users = annotators_on(project, 16)

    def grab_and_submit(user) -> None:
        while lease := next_or_none(project, user, patience=0.5):
            services.annotation_submit(lease=lease, by=user, answer="no")

    run_in_threads(users, grab_and_submit)

    assert set(BatchItem.objects.values_list("submitted_count", flat=True)) == {overlap}
    assert Annotation.objects.count() == 3 * overlap


def test_renewing_a_lease_concurrently_keeps_one_lease(project):
    make_batch(project, make_items(project, 5), overlap=1)
    (user,) = annotators_on(project, 1)
    first = queue.next_item(project=project, annotator=user)
    seen: list[int] = []

    def reload(_) -> None:
        seen.append(queue.next_item(project=project, annotator=user).pk)

    run_in_threads([user] * 8, reload)

    assert set(seen) == {first.pk}
    assert Lease.objects.filter(annotator=user).count() == 1
