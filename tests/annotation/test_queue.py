"""The labelling queue and its services: exact-N overlap, leases, expiry, skips, pauses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation import queue
from annotation.models import (
    Annotation,
    AnnotatorState,
    Batch,
    BatchItem,
    GuidelineVersion,
    Item,
    Lease,
    QualificationRule,
)
from annotation.services import labelling as services
from annotation.services import team as team_services
from dmops.errors import DomainError
from tests.annotation.builders import annotators_on, make_batch, make_items, make_schema

pytestmark = pytest.mark.django_db


# --- leasing ----------------------------------------------------------------------------------


def test_reload_returns_the_same_lease_with_renewed_expiry(project, annotator):
    make_batch(project, make_items(project, 3), lease_ttl=60)
    now = timezone.now()
    first = queue.next_item(project=project, annotator=annotator, now=now)
    again = queue.next_item(project=project, annotator=annotator, now=now + timedelta(seconds=30))
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.expires_at == now + timedelta(seconds=90)
    assert Lease.objects.count() == 1


def test_queue_follows_batch_priority_then_item_priority(project, annotator, manager):
    items = make_items(project, 4)
    low = make_batch(project, items[:2], priority=0, name="low")
    high = make_batch(project, items[2:], priority=5, name="high")
    BatchItem.objects.filter(batch=high, item=items[3]).update(priority=0.9)
    lease = queue.next_item(project=project, annotator=annotator)
    assert lease.batch_item.item_id == items[3].pk
    services.lease_release(lease=lease, by=annotator)
    lease = queue.next_item(project=project, annotator=annotator)
    assert lease.batch_item.item_id == items[2].pk
    services.batch_close(batch=high, by=manager)
    services.lease_release(lease=lease, by=annotator)
    assert queue.next_item(project=project, annotator=annotator).batch_item.batch_id == low.pk


def test_each_item_goes_to_exactly_n_different_annotators(project):
    make_batch(project, make_items(project, 1), overlap=3)
    users = annotators_on(project, 4)
    leases = [queue.next_item(project=project, annotator=u) for u in users]
    assert [lease is not None for lease in leases] == [True, True, True, False]
    for user, lease in zip(users[:3], leases[:3], strict=True):
        services.annotation_submit(lease=lease, by=user, answer="yes")
    item = BatchItem.objects.get()
    assert (item.submitted_count, item.is_complete) == (3, True)
    assert queue.next_item(project=project, annotator=users[3]) is None


def test_annotator_never_gets_same_item_twice(project, annotator):
    make_batch(project, make_items(project, 3), overlap=2)
    seen = []
    while lease := queue.next_item(project=project, annotator=annotator):
        seen.append(lease.batch_item_id)
        services.annotation_submit(lease=lease, by=annotator, answer="no")
    assert len(seen) == len(set(seen)) == 3


def test_database_refuses_a_second_lease_on_the_same_item(project, annotator):
    make_batch(project, make_items(project, 1), overlap=2)
    lease = queue.next_item(project=project, annotator=annotator)
    services.lease_release(lease=lease, by=annotator)
    with pytest.raises(IntegrityError), transaction.atomic():
        Lease.objects.create(
            batch_item_id=lease.batch_item_id,
            annotator=annotator,
            created_at=timezone.now(),
            expires_at=timezone.now(),
        )


def test_paused_annotator_gets_nothing(project, manager, annotator):
    make_batch(project, make_items(project, 2))
    team_services.annotator_pause(project=project, by=manager, user=annotator)
    assert queue.next_item(project=project, annotator=annotator) is None
    team_services.annotator_pause(project=project, by=manager, user=annotator, paused=False)
    assert queue.next_item(project=project, annotator=annotator) is not None


def test_only_a_manager_pauses(project, annotator):
    with pytest.raises(PermissionDenied):
        team_services.annotator_pause(project=project, by=annotator, user=annotator)


def test_closed_batch_serves_nothing(project, annotator):
    make_batch(project, make_items(project, 2), is_open=False)
    assert queue.next_item(project=project, annotator=annotator) is None


def test_next_item_query_count_is_pinned(project, annotator, django_assert_num_queries):
    make_batch(project, make_items(project, 50), overlap=2)
    # On PostgreSQL one call of dmops_next_item, whether it leases or renews. Elsewhere one
    # transaction (a savepoint inside the test's own, so SAVEPOINT and RELEASE are counted) of
    # who may work, the current lease and the open batches (one query: membership, pause,
    # qualification and the project's rule, whether or not the annotator has a state row), then
    # the pick and the guarded insert.
    postgres = connection.vendor == "postgresql"
    with django_assert_num_queries(1 if postgres else 5):
        assert queue.next_item(project=project, annotator=annotator) is not None
    # Elsewhere, in one transaction, who may work with the current lease, then its renewal.
    with django_assert_num_queries(1 if postgres else 4):
        assert queue.next_item(project=project, annotator=annotator) is not None


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)  # a real transaction, whose setting ends with it
def test_a_lease_is_committed_without_waiting_for_the_wal_flush(project, annotator):
    make_batch(project, make_items(project, 2))
    with transaction.atomic():  # the test's view of next_item's transaction, before it ends
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
        assert queue.next_item(project=project, annotator=annotator) is not None
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "off"
    with connection.cursor() as cursor:  # for that transaction only: submit's stays durable
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_work_refusal_is_one_query_with_or_without_a_state_row(
    project, annotator, django_assert_num_queries
):
    QualificationRule.objects.create(project=project, min_correct=1)
    with django_assert_num_queries(1):
        assert queue.work_refusal(project=project, annotator=annotator) == "not_qualified"
    AnnotatorState.objects.create(project=project, user=annotator, qualified_at=timezone.now())
    with django_assert_num_queries(1):
        assert queue.work_refusal(project=project, annotator=annotator) is None
    AnnotatorState.objects.filter(project=project, user=annotator).update(paused=True)
    with django_assert_num_queries(1):
        assert queue.work_refusal(project=project, annotator=annotator) == "paused"


def test_only_annotators_must_qualify_managers_and_reviewers_label_at_once(
    project, manager, reviewer, annotator
):
    make_batch(project, make_items(project, 3), overlap=3)
    QualificationRule.objects.create(project=project, min_correct=1)
    assert queue.next_item(project=project, annotator=annotator) is None
    assert queue.next_item(project=project, annotator=manager) is not None
    assert queue.next_item(project=project, annotator=reviewer) is not None


# --- expiry -----------------------------------------------------------------------------------


def test_expired_lease_stops_counting_and_the_slot_is_reclaimed(project):
    make_batch(project, make_items(project, 1), overlap=1, lease_ttl=60)
    first, second = annotators_on(project, 2)
    now = timezone.now()
    assert queue.next_item(project=project, annotator=first, now=now) is not None
    assert queue.next_item(project=project, annotator=second, now=now) is None
    later = now + timedelta(seconds=61)
    lease = queue.next_item(project=project, annotator=second, now=later)
    assert lease is not None and lease.annotator == second
    # The first annotator's expired lease still keeps the item from coming back to them.
    assert queue.next_item(project=project, annotator=first, now=later) is None


def test_late_submit_is_accepted_while_the_item_has_room(project):
    make_batch(project, make_items(project, 1), overlap=2, lease_ttl=60)
    first, _ = annotators_on(project, 2)
    now = timezone.now()
    lease = queue.next_item(project=project, annotator=first, now=now)
    late = now + timedelta(minutes=5)
    annotation = services.annotation_submit(lease=lease, by=first, answer="yes", now=late)
    assert annotation.batch_item.submitted_count == 1


def test_late_submit_on_a_completed_item_is_a_conflict(project):
    make_batch(project, make_items(project, 1), overlap=1, lease_ttl=60)
    slow, fast = annotators_on(project, 2)
    now = timezone.now()
    stale = queue.next_item(project=project, annotator=slow, now=now)
    later = now + timedelta(seconds=120)
    lease = queue.next_item(project=project, annotator=fast, now=later)
    services.annotation_submit(lease=lease, by=fast, answer="no", now=later)
    with pytest.raises(services.LeaseExpired):
        services.annotation_submit(lease=stale, by=slow, answer="yes", now=later)
    assert Annotation.objects.count() == 1


def test_late_submit_is_refused_when_others_hold_the_free_slots(project):
    make_batch(project, make_items(project, 1), overlap=1, lease_ttl=60)
    slow, fast = annotators_on(project, 2)
    now = timezone.now()
    stale = queue.next_item(project=project, annotator=slow, now=now)
    later = now + timedelta(seconds=120)
    queue.next_item(project=project, annotator=fast, now=later)
    with pytest.raises(services.LeaseExpired):
        services.annotation_submit(lease=stale, by=slow, answer="yes", now=later)


def test_housekeeping_marks_expired_leases(project, annotator):
    make_batch(project, make_items(project, 1), lease_ttl=60)
    now = timezone.now()
    lease = queue.next_item(project=project, annotator=annotator, now=now)
    assert queue.leases_expire(now=now + timedelta(seconds=61)) == 1
    lease.refresh_from_db()
    assert lease.state == Lease.State.EXPIRED


# --- submit -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_type", "good", "bad"),
    [
        ("binary", "unsure", "maybe"),
        ("single", "claim", "fact"),
        ("single", "opinion", ["claim"]),
        ("multi", ["claim", "opinion"], ["claim", "claim"]),
        ("multi", [], "claim"),
        ("multi", ["opinion"], ["fact"]),
        ("multi", ["claim"], ["claim", 1]),
        ("pairwise", "tie", "yes"),
        ("pairwise", "a", ["a"]),
        ("binary", "no", {"answer": "no"}),
    ],
)
def test_answer_is_checked_against_the_schema(project, annotator, task_type, good, bad):
    schema = make_schema(project, task_type)
    make_batch(project, make_items(project, 1), schema_version=schema)
    lease = queue.next_item(project=project, annotator=annotator)
    with pytest.raises(DomainError):
        services.annotation_submit(lease=lease, by=annotator, answer=bad)
    assert not Annotation.objects.exists()  # and the lease is still open, as the next shows
    annotation = services.annotation_submit(lease=lease, by=annotator, answer=good)
    assert annotation.answer == good and annotation.schema_version == schema


def test_an_item_that_proposes_a_label_takes_yes_or_no_whatever_the_schema(project, annotator):
    make_schema(project, "single")
    items = make_items(project, 1)
    make_batch(project, items, proposed_labels={items[0].pk: "claim"})
    lease = queue.next_item(project=project, annotator=annotator)
    with pytest.raises(DomainError):
        services.annotation_submit(lease=lease, by=annotator, answer="claim")
    assert services.annotation_submit(lease=lease, by=annotator, answer="yes").answer == "yes"


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.parametrize(("task_type", "answer"), [("binary", "no"), ("multi", ["opinion"])])
def test_one_call_submit_writes_what_the_checked_path_writes(
    project, manager, task_type, answer, django_assert_num_queries
):
    """dmops_submit (PostgreSQL's one-call submit) and the checked path, on two leases of one
    item: the same annotation, lease state and count, and the last answer completes it."""
    schema = make_schema(project, task_type)
    guideline = GuidelineVersion.objects.create(
        project=project, number=1, body="# Guide", change_summary="first", created_by=manager
    )
    make_batch(project, make_items(project, 1), schema_version=schema, overlap=2)
    first, second = annotators_on(project, 2)
    one_call = queue.next_item(project=project, annotator=first)
    checked = queue.next_item(project=project, annotator=second)
    now = timezone.now()
    with django_assert_num_queries(1):  # the one call, not the checked path after it
        fast = services.annotation_submit(lease=one_call, by=first, answer=answer, seconds_spent=2)
    slow = services._submit_checked(checked, second, answer, 2, now)
    fields = ("answer", "schema_version_id", "guideline_version_id", "seconds_spent",
              "batch_id", "item_id", "batch_item_id")  # fmt: skip
    stored = {a.annotator_id: a for a in Annotation.objects.all()}
    for returned in (fast, slow):
        row = stored[returned.annotator_id]
        assert {f: getattr(returned, f) for f in fields} == {f: getattr(row, f) for f in fields}
        assert returned.created_at == row.created_at and returned.pk == row.pk
    assert stored[first.pk].guideline_version_id == guideline.pk
    assert {f: getattr(stored[first.pk], f) for f in fields} == {
        f: getattr(stored[second.pk], f) for f in fields
    }
    assert set(Lease.objects.values_list("state", flat=True)) == {Lease.State.SUBMITTED}
    item = BatchItem.objects.get()
    assert (item.submitted_count, item.is_complete) == (2, True)


def test_cannot_submit_someone_elses_lease(project, annotator, reviewer):
    make_batch(project, make_items(project, 1))
    lease = queue.next_item(project=project, annotator=annotator)
    with pytest.raises(PermissionDenied, match="another annotator's"):
        services.annotation_submit(lease=lease, by=reviewer, answer="yes")


def test_a_lease_outlives_membership_but_cannot_be_submitted(project, annotator):
    make_batch(project, make_items(project, 1))
    lease = queue.next_item(project=project, annotator=annotator)
    project.memberships.filter(user=annotator).delete()
    with pytest.raises(PermissionDenied, match="not a member"):
        services.annotation_submit(lease=lease, by=annotator, answer="yes")
    assert not Annotation.objects.exists()
    assert Lease.objects.get(pk=lease.pk).state == Lease.State.ACTIVE


def test_a_lease_is_submitted_once(project, annotator):
    make_batch(project, make_items(project, 1), overlap=2)
    lease = queue.next_item(project=project, annotator=annotator)
    services.annotation_submit(lease=lease, by=annotator, answer="yes")
    with pytest.raises(services.LeaseClosed):
        services.annotation_submit(lease=lease, by=annotator, answer="no")
    assert BatchItem.objects.get().submitted_count == 1


# --- skip and release -------------------------------------------------------------------------


def test_skip_requeue_others_frees_the_slot_but_never_returns_it(project):
    make_batch(project, make_items(project, 1), skip_policy="requeue_others")
    first, second = annotators_on(project, 2)
    lease = queue.next_item(project=project, annotator=first)
    services.lease_skip(lease=lease, by=first)
    assert queue.next_item(project=project, annotator=first) is None
    assert queue.next_item(project=project, annotator=second).batch_item_id == lease.batch_item_id


def test_skip_requeue_me_later_returns_it_after_the_rest(project, annotator):
    items = make_items(project, 2)
    make_batch(project, items, skip_policy="requeue_me_later")
    lease = queue.next_item(project=project, annotator=annotator)
    services.lease_skip(lease=lease, by=annotator)
    other = queue.next_item(project=project, annotator=annotator)
    assert other.batch_item_id != lease.batch_item_id
    services.annotation_submit(lease=other, by=annotator, answer="no")
    again = queue.next_item(project=project, annotator=annotator)
    assert again.batch_item_id == lease.batch_item_id and again.pk != lease.pk
    services.annotation_submit(lease=again, by=annotator, answer="yes")
    assert queue.next_item(project=project, annotator=annotator) is None


def test_skip_drop_removes_the_item_for_everyone(project):
    make_batch(project, make_items(project, 1), overlap=2, skip_policy="drop")
    first, second = annotators_on(project, 2)
    lease = queue.next_item(project=project, annotator=first)
    services.lease_skip(lease=lease, by=first)
    assert BatchItem.objects.get().is_dropped
    assert queue.next_item(project=project, annotator=second) is None


def test_release_frees_the_slot_at_once(project):
    make_batch(project, make_items(project, 1))
    first, second = annotators_on(project, 2)
    lease = queue.next_item(project=project, annotator=first)
    assert queue.next_item(project=project, annotator=second) is None
    services.lease_release(lease=lease, by=first)
    assert queue.next_item(project=project, annotator=second) is not None
    with pytest.raises(services.LeaseClosed):
        services.lease_release(lease=lease, by=first)


# --- batches ----------------------------------------------------------------------------------


def test_only_managers_create_and_open_batches(project, annotator, manager):
    items = make_items(project, 2)
    make_schema(project)
    with pytest.raises(PermissionDenied):
        services.batch_create(project=project, by=annotator, name="b", items=items)
    batch = services.batch_create(
        project=project, by=manager, name="b", items=Item.objects.filter(project=project)
    )
    assert batch.batch_items.count() == 2 and not batch.is_open
    with pytest.raises(PermissionDenied):
        services.batch_open(batch=batch, by=annotator)
    assert services.batch_open(batch=batch, by=manager).is_open


def test_batch_ignores_items_of_other_projects(project, manager):
    from tests.dmops.factories import ProjectFactory

    other = make_items(ProjectFactory(manager=manager, name="other"), 2, prefix="o")
    mine = make_items(project, 1)
    batch = make_batch(project, [*mine, *other])
    assert list(batch.batch_items.values_list("item_id", flat=True)) == [mine[0].pk]


def test_batch_rules(project, manager):
    items = make_items(project, 1)
    with pytest.raises(DomainError):
        services.batch_create(project=project, by=manager, name="b", items=items, overlap=0)
    batch = services.batch_create(project=project, by=manager, name="b", items=[items[0].pk])
    assert batch.schema_version is None
    with pytest.raises(DomainError):
        services.batch_open(batch=batch, by=manager)


def test_verification_batch_carries_proposed_labels(project, annotator):
    items = make_items(project, 2)
    make_batch(project, items, kind="verification", proposed_labels={items[1].pk: "claim"})
    lease = queue.next_item(project=project, annotator=annotator)
    assert lease.batch_item.proposed_label == "claim"
    assert Batch.objects.get().batch_items.count() == 1


def test_guarded_insert_refuses_an_item_that_filled_up_after_the_pick(project):
    """The pick's count comes from its snapshot; the insert recounts under the row lock, so a
    stale pick of a full item leases nothing."""
    make_batch(project, make_items(project, 1), overlap=1)
    first, second = annotators_on(project, 2)
    lease = queue.next_item(project=project, annotator=first)
    now = timezone.now()
    later = now + timedelta(minutes=1)
    assert queue._insert_lease_if_room(lease.batch_item_id, second.pk, 1, now, later) is None
    assert queue._insert_lease_if_room(lease.batch_item_id, second.pk, 2, now, later) is not None
