"""Undo last (key z): the service, its refusals, the overlap invariant and the REST endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation import queue
from annotation.models import Annotation, BatchItem, Lease, Review
from annotation.services import labelling as services
from annotation.services import workbench as workbench_services
from dmops.errors import DomainError
from tests.annotation.builders import annotators_on, make_batch, make_items

pytestmark = pytest.mark.django_db


def label(project, annotator, answer="yes"):
    lease = queue.next_item(project=project, annotator=annotator)
    return services.annotation_submit(lease=lease, by=annotator, answer=answer)


def test_undo_reopens_the_last_answer_on_the_same_lease(project, annotator):
    make_batch(project, make_items(project, 3), lease_ttl=600)
    label(project, annotator)
    last = label(project, annotator, "no")
    shown = queue.next_item(project=project, annotator=annotator)  # the third item, on screen
    now = timezone.now()

    reopened = workbench_services.annotation_undo_last(project=project, by=annotator, now=now)

    assert reopened.batch_item_id == last.batch_item_id
    reopened.refresh_from_db()
    assert reopened.state == Lease.State.ACTIVE
    assert reopened.expires_at == now + timedelta(seconds=600)
    assert not Annotation.objects.filter(pk=last.pk).exists()
    assert Annotation.objects.count() == 1
    batch_item = BatchItem.objects.get(pk=last.batch_item_id)
    assert (batch_item.submitted_count, batch_item.is_complete) == (0, False)
    assert Lease.objects.filter(batch_item=batch_item, annotator=annotator).count() == 1
    # The undone item comes back before the one that was on screen.
    assert queue.next_item(project=project, annotator=annotator).pk == reopened.pk
    services.annotation_submit(lease=reopened, by=annotator, answer="yes")
    assert queue.next_item(project=project, annotator=annotator).pk == shown.pk


def test_undo_keeps_the_item_within_its_overlap(project, annotator):
    make_batch(project, make_items(project, 1), overlap=2)
    other, third = annotators_on(project, 2)
    label(project, annotator)
    label(project, other)
    assert BatchItem.objects.get().is_complete
    workbench_services.annotation_undo_last(project=project, by=annotator)
    # One submitted + the reopened live lease: still full, nobody else gets it.
    assert queue.next_item(project=project, annotator=third) is None
    lease = queue.next_item(project=project, annotator=annotator)
    services.annotation_submit(lease=lease, by=annotator, answer="no")
    item = BatchItem.objects.get()
    assert (item.submitted_count, item.is_complete) == (2, True)
    assert Annotation.objects.count() == 2


def test_undo_with_nothing_to_undo_is_refused(project, annotator):
    make_batch(project, make_items(project, 1))
    with pytest.raises(DomainError, match="Nothing to undo"):
        workbench_services.annotation_undo_last(project=project, by=annotator)


def test_undo_only_reaches_the_callers_own_answers(project, annotator):
    make_batch(project, make_items(project, 1), overlap=2)
    other = annotators_on(project, 1)[0]
    label(project, other)
    with pytest.raises(DomainError, match="Nothing to undo"):
        workbench_services.annotation_undo_last(project=project, by=annotator)
    assert Annotation.objects.count() == 1


def test_undo_after_a_review_decided_the_item_is_refused(project, annotator, reviewer):
    make_batch(project, make_items(project, 1))
    annotation = label(project, annotator)
    Review.objects.create(item_id=annotation.item_id, reviewer=reviewer, reason="spot_check")
    # A review still pending does not stop the undo.
    workbench_services.annotation_undo_last(project=project, by=annotator)
    label(project, annotator)
    Review.objects.update(decision=Review.Decision.ACCEPT, decided_at=timezone.now())
    with pytest.raises(DomainError, match="reviewer has already decided"):
        workbench_services.annotation_undo_last(project=project, by=annotator)
    assert Annotation.objects.count() == 1
    assert Lease.objects.get().state == Lease.State.SUBMITTED


def test_undo_ignores_closed_batches(project, annotator, manager):
    batch = make_batch(project, make_items(project, 1))
    label(project, annotator)
    services.batch_close(batch=batch, by=manager)
    with pytest.raises(DomainError, match="Nothing to undo"):
        workbench_services.annotation_undo_last(project=project, by=annotator)


# --- REST -------------------------------------------------------------------------------------


def undo(api, project):
    return api.post(reverse("api_undo_last", args=[project.pk]))


def test_api_undo_returns_the_reopened_item(api, project, annotator):
    make_batch(project, make_items(project, 2))
    last = label(project, annotator)
    api.force_authenticate(annotator)
    response = undo(api, project)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["batch_item_id"] == last.batch_item_id
    assert body["lease_id"] == Lease.objects.get(batch_item_id=last.batch_item_id).pk
    assert (
        api.get(reverse("api_next_item", args=[project.pk])).json()["lease_id"]
        == (body["lease_id"])
    )
    assert undo(api, project).status_code == 400


def test_api_undo_refuses_outsiders_and_anonymous(api, project, annotator, outsider):
    make_batch(project, make_items(project, 1))
    label(project, annotator)
    assert undo(api, project).status_code == 401
    api.force_authenticate(outsider)
    assert undo(api, project).status_code == 403
    assert Annotation.objects.count() == 1


# --- keeping the lease while the page is open ----------------------------------------------


def test_open_page_renews_its_lease_until_it_has_run_out(client, project, annotator):
    make_batch(project, make_items(project, 1), overlap=1, lease_ttl=600)
    client.force_login(annotator)
    page = client.get(reverse("workbench", args=[project.pk]))
    lease = Lease.objects.get(annotator=annotator)
    assert f'data-lease="{lease.pk}"' in page.content.decode()
    assert 'data-lease-ttl="600"' in page.content.decode()
    renew = reverse("workbench_renew", args=[project.pk])

    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() + timedelta(seconds=5))
    assert client.post(renew, {"lease": lease.pk}).status_code == 204
    lease.refresh_from_db()
    assert lease.expires_at > timezone.now() + timedelta(seconds=590)

    # Once expired, the slot may be someone else's: no renewal, and the page is told.
    past = timezone.now() + timedelta(seconds=601)
    assert queue.lease_renew(lease_id=lease.pk, annotator=annotator, now=past) is None
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = client.post(renew, {"lease": lease.pk})
    assert refused.status_code == 409 and "ran out" in refused.content.decode()


def test_only_the_holder_renews_a_lease(client, project, annotator, manager, outsider):
    make_batch(project, make_items(project, 1), overlap=1)
    client.force_login(annotator)
    client.get(reverse("workbench", args=[project.pk]))
    lease = Lease.objects.get(annotator=annotator)
    renew = reverse("workbench_renew", args=[project.pk])
    client.force_login(manager)
    assert client.post(renew, {"lease": lease.pk}).status_code == 409
    client.force_login(outsider)
    assert client.post(renew, {"lease": lease.pk}).status_code == 403
    client.logout()
    assert client.post(renew, {"lease": lease.pk}).status_code == 302  # to the login page
