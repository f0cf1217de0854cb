"""The Batches page and its selector: progress figures, creating batches from the three item
pools, opening, closing and reprioritising; plus the REST batch PATCH."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation import queue
from annotation.models import AnnotatorState, Batch, BatchItem, QualificationRule
from annotation.selectors import batches as selectors
from annotation.services import labelling
from annotation.services import team as team_services
from tests.annotation.builders import annotators_on, make_batch, make_items, make_schema

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def login(client, user):
    client.force_login(user)
    return client


def create(client, project, **fields):
    data = {
        "name": "Main 1",
        "kind": "main",
        "overlap_mode": "fixed",
        "overlap": 2,
        "priority": 0,
        "skip_policy": "requeue_others",
        "lease_minutes": 30,
        "items_mode": "unbatched",
        **fields,
    }
    return client.post(reverse("batches", args=[project.pk]), data)


# --- progress ---------------------------------------------------------------------------------


def test_progress_counts_items_complete_dropped_answers_and_live_leases(
    project, manager, annotator, django_assert_num_queries
):
    batch = make_batch(project, make_items(project, 4), overlap=2, skip_policy="drop")
    first, second = annotators_on(project, 2)
    lease = queue.next_item(project=project, annotator=annotator)
    labelling.annotation_submit(lease=lease, by=annotator, answer="yes")
    lease = queue.next_item(project=project, annotator=first)
    labelling.annotation_submit(lease=lease, by=first, answer="no")  # item 1 complete
    skipped = queue.next_item(project=project, annotator=first)
    labelling.lease_skip(lease=skipped, by=first)  # dropped
    queue.next_item(project=project, annotator=second)  # one live lease
    with django_assert_num_queries(1):
        row = list(selectors.batch_progress(project))[0]
    assert row.pk == batch.pk
    assert (
        row.item_count,
        row.complete_count,
        row.dropped_count,
        row.submitted_count,
        row.live_lease_count,
    ) == (4, 1, 1, 2, 1)


def test_every_annotator_overlap_counts_who_may_work(project, manager, annotator):
    others = annotators_on(project, 2)
    team_services.annotator_pause(project=project, by=manager, user=others[0])
    assert selectors.every_annotator_overlap(project) == 2
    QualificationRule.objects.create(project=project, min_correct=1)
    assert selectors.every_annotator_overlap(project) == 0
    AnnotatorState.objects.filter(project=project, user=others[0]).update(
        qualified_at=timezone.now()
    )
    AnnotatorState.objects.create(project=project, user=others[1], qualified_at=timezone.now())
    assert selectors.every_annotator_overlap(project) == 1  # others[0] is still paused


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["manager", "reviewer", "annotator"])
def test_members_see_the_batches_and_only_managers_get_controls(client, project, personas, persona):
    make_batch(project, make_items(project, 3), name="Pilot A", kind="pilot")
    page = login(client, personas[persona]).get(reverse("batches", args=[project.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and "Pilot A" in body and "0 / 3 complete" in body
    assert ('id="batch-create"' in body) == (persona == "manager")
    assert ("batch_priority" in body or "/priority/" in body) == (persona == "manager")


def test_outsider_gets_403_and_anonymous_is_sent_to_login(client, project, outsider):
    url = reverse("batches", args=[project.pk])
    assert client.get(url).status_code == 302
    assert login(client, outsider).get(url).status_code == 403


def test_create_from_items_not_yet_in_a_batch_of_that_kind(client, project, manager):
    items = make_items(project, 5)
    make_schema(project)
    make_batch(project, items[:2], name="Earlier main")
    make_batch(project, items[2:3], name="A pilot", kind="pilot")
    response = create(login(client, manager), project, open_now="on")
    assert response.status_code == 302
    batch = Batch.objects.get(name="Main 1")
    chosen = set(BatchItem.objects.filter(batch=batch).values_list("item_id", flat=True))
    assert chosen == {i.pk for i in items[2:]}
    assert (batch.overlap, batch.is_open, batch.lease_ttl) == (2, True, 1800)


def test_create_a_random_sample(client, project, manager):
    items = make_items(project, 10)
    make_batch(project, items[:4], name="Earlier")
    response = create(login(client, manager), project, items_mode="sample", sample_size=3)
    assert response.status_code == 302
    chosen = set(BatchItem.objects.filter(batch__name="Main 1").values_list("item_id", flat=True))
    assert len(chosen) == 3 and chosen <= {i.pk for i in items[4:]}


def test_create_from_item_ids_ignores_other_projects_items(client, project, manager):
    items = make_items(project, 4)
    response = create(
        login(client, manager),
        project,
        items_mode="ids",
        item_ids=f"{items[0].pk}, {items[3].pk} 999999",
        kind="training",
    )
    assert response.status_code == 302
    chosen = set(BatchItem.objects.filter(batch__name="Main 1").values_list("item_id", flat=True))
    assert chosen == {items[0].pk, items[3].pk}


def test_every_annotator_overlap_for_a_pilot(client, project, manager, annotator):
    make_items(project, 3)
    annotators_on(project, 2)
    response = create(login(client, manager), project, kind="pilot", overlap_mode="everyone")
    assert response.status_code == 302
    assert Batch.objects.get(name="Main 1").overlap == 3


def test_a_batch_that_cannot_open_is_not_left_behind(client, project, manager):
    make_items(project, 2)  # no schema at all
    response = create(login(client, manager), project, open_now="on")
    assert response.status_code == 400
    assert "schema version" in response.content.decode()
    assert not Batch.objects.exists()


def test_an_empty_pool_is_refused(client, project, manager):
    items = make_items(project, 2)
    make_batch(project, items)
    response = create(login(client, manager), project)
    assert response.status_code == 400 and "would be empty" in response.content.decode()
    assert Batch.objects.count() == 1


def test_form_errors_are_shown(client, project, manager):
    response = create(login(client, manager), project, items_mode="sample", name="")
    body = response.content.decode()
    assert response.status_code == 400
    assert "This field is required" in body and "Give the sample size" in body


def test_manager_opens_closes_and_reprioritises_with_htmx(client, project, manager, annotator):
    batch = make_batch(project, make_items(project, 1), is_open=False)
    login(client, manager)
    state = reverse("batch_set_open", args=[project.pk, batch.pk])
    body = client.post(state, {"open": "1"}, **HTMX).content.decode()
    assert body.lstrip().startswith('<section class="card" id="batch-list"') and "Open" in body
    batch.refresh_from_db()
    assert batch.is_open and queue.next_item(project=project, annotator=annotator) is not None
    client.post(state, {"open": "0"})
    batch.refresh_from_db()
    assert not batch.is_open
    client.post(reverse("batch_priority", args=[project.pk, batch.pk]), {"priority": "7"})
    batch.refresh_from_db()
    assert batch.priority == 7


@pytest.mark.parametrize("persona", ["reviewer", "annotator", "outsider"])
def test_only_managers_change_batches(client, project, personas, persona):
    make_items(project, 2)
    batch = make_batch(project, make_items(project, 1, prefix="B"), is_open=False)
    login(client, personas[persona])
    assert create(client, project).status_code == 403
    state = reverse("batch_set_open", args=[project.pk, batch.pk])
    assert client.post(state, {"open": "1"}).status_code == 403
    priority = reverse("batch_priority", args=[project.pk, batch.pk])
    assert client.post(priority, {"priority": "9"}).status_code == 403
    batch.refresh_from_db()
    assert (batch.is_open, batch.priority, Batch.objects.count()) == (False, 0, 1)


# --- batch_update and its REST endpoint -------------------------------------------------------


def test_api_patch_changes_priority_and_raises_overlap(api, project, manager, annotator):
    batch = make_batch(project, make_items(project, 1), overlap=1)
    lease = queue.next_item(project=project, annotator=annotator)
    labelling.annotation_submit(lease=lease, by=annotator, answer="yes")
    url = reverse("api_batch", args=[project.pk, batch.pk])
    api.force_authenticate(manager)
    response = api.patch(url, {"priority": 5, "overlap": 2}, format="json")
    assert response.status_code == 200
    assert (response.json()["priority"], response.json()["overlap"]) == (5, 2)
    assert not BatchItem.objects.get(batch=batch).is_complete  # room for a second judgement
    assert queue.next_item(project=project, annotator=annotators_on(project, 1)[0]) is not None


def test_api_patch_refuses_lowering_overlap_once_items_were_given_out(
    api, project, manager, annotator
):
    batch = make_batch(project, make_items(project, 1), overlap=2)
    queue.next_item(project=project, annotator=annotator)
    api.force_authenticate(manager)
    response = api.patch(
        reverse("api_batch", args=[project.pk, batch.pk]), {"overlap": 1}, format="json"
    )
    assert response.status_code == 400 and "only be raised" in str(response.json())
    batch.refresh_from_db()
    assert batch.overlap == 2


def test_api_patch_permissions(api, project, personas):
    batch = make_batch(project, make_items(project, 1))
    url = reverse("api_batch", args=[project.pk, batch.pk])
    assert api.patch(url, {"priority": 1}, format="json").status_code == 401
    for persona in ("reviewer", "annotator", "outsider"):
        api.force_authenticate(personas[persona])
        assert api.patch(url, {"priority": 1}, format="json").status_code == 403
    batch.refresh_from_db()
    assert batch.priority == 0
