"""The labelling API: next item, submit, skip, release, batches; personas and status codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from annotation.models import Annotation, Batch, BatchItem, Lease
from tests.annotation.builders import annotators_on, make_batch, make_items, make_schema

pytestmark = pytest.mark.django_db


def as_user(api, user):
    api.force_authenticate(user)
    return api


def next_item(api, project):
    return api.get(reverse("api_next_item", args=[project.pk]))


def submit(api, data):
    url = reverse("api_item_annotations", args=[data["batch_item_id"]])
    payload = {"lease": data["lease_id"], "answer": "yes", **data.get("extra", {})}
    return api.post(url, payload, format="json")


@pytest.fixture
def batch(project):
    return make_batch(project, make_items(project, 2), overlap=2)


def test_next_item_leases_and_describes_the_item(api, project, annotator, batch):
    response = next_item(as_user(api, annotator), project)
    assert response.status_code == 200
    body = response.json()
    lease = Lease.objects.get()
    assert body["lease_id"] == lease.pk and body["batch_item_id"] == lease.batch_item_id
    assert body["text"].startswith("Sentence number") and body["metadata"] == {"n": 0}
    assert body["question"]["task_type"] == "binary"
    assert body["question"]["question"] == "Does this sentence need a citation?"
    assert [label["key"] for label in body["question"]["labels"]] == ["claim", "opinion"]
    assert body["batch"]["kind"] == "main" and body["proposed_label"] == ""
    assert next_item(api, project).json()["lease_id"] == lease.pk


def test_the_hot_path_answers_json_whatever_the_client_accepts(api, project, annotator, batch):
    url = reverse("api_next_item", args=[project.pk])
    response = as_user(api, annotator).get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    submit_url = reverse("api_item_annotations", args=[response.json()["batch_item_id"]])
    body = {"lease": response.json()["lease_id"], "answer": "yes"}
    answered = api.post(submit_url, body, format="json", HTTP_ACCEPT="application/xml")
    assert answered.status_code == 201 and answered.json()["answer"] == "yes"


def test_next_item_is_204_when_nothing_is_left(api, project, annotator):
    assert next_item(as_user(api, annotator), project).status_code == 204


def test_submit_records_the_answer(api, project, annotator, batch):
    body = next_item(as_user(api, annotator), project).json()
    response = submit(api, {**body, "extra": {"seconds_spent": 4.5}})
    assert response.status_code == 201, response.content
    annotation = Annotation.objects.get()
    assert (annotation.answer, annotation.seconds_spent) == ("yes", 4.5)
    assert response.json()["annotator"] == "annotator"
    assert next_item(api, project).json()["batch_item_id"] != body["batch_item_id"]


def test_invalid_answer_is_400(api, project, annotator, batch):
    body = next_item(as_user(api, annotator), project).json()
    response = submit(api, {**body, "extra": {"answer": "perhaps"}})
    assert response.status_code == 400
    assert not Annotation.objects.exists()


def test_submitting_someone_elses_lease_is_403(api, project, annotator, batch):
    other = annotators_on(project, 1)[0]
    body = next_item(as_user(api, annotator), project).json()
    assert submit(as_user(api, other), body).status_code == 403


def test_lease_for_another_item_is_400(api, project, annotator, batch):
    body = next_item(as_user(api, annotator), project).json()
    other_item = BatchItem.objects.exclude(pk=body["batch_item_id"]).get()
    assert submit(api, {**body, "batch_item_id": other_item.pk}).status_code == 400


def test_expired_lease_on_a_completed_item_is_409(api, project, annotator):
    make_batch(project, make_items(project, 1), overlap=1)
    body = next_item(as_user(api, annotator), project).json()
    Lease.objects.update(expires_at=Lease.objects.get().created_at - timedelta(seconds=1))
    other = annotators_on(project, 1)[0]
    assert submit(as_user(api, other), next_item(api, project).json()).status_code == 201
    assert submit(as_user(api, annotator), body).status_code == 409


def test_skip_and_release(api, project, annotator, batch):
    body = next_item(as_user(api, annotator), project).json()
    response = api.post(reverse("api_lease_skip", args=[body["lease_id"]]))
    assert response.status_code == 200 and response.json()["state"] == "skipped"
    assert api.post(reverse("api_lease_skip", args=[body["lease_id"]])).status_code == 409
    body = next_item(api, project).json()
    response = api.post(reverse("api_lease_release", args=[body["lease_id"]]))
    assert response.status_code == 200 and response.json()["state"] == "released"
    assert next_item(api, project).status_code == 204


def test_annotators_see_only_their_own_annotations(api, project, annotator, manager, batch):
    other = annotators_on(project, 1)[0]
    body = next_item(as_user(api, annotator), project).json()
    submit(api, body)
    submit(as_user(api, other), next_item(api, project).json())
    url = reverse("api_item_annotations", args=[body["batch_item_id"]])
    assert [a["annotator"] for a in as_user(api, annotator).get(url).json()] == ["annotator"]
    assert len(as_user(api, manager).get(url).json()) == 2


def test_manager_creates_opens_and_closes_a_batch(api, project, manager, annotator):
    items = make_items(project, 3)
    schema = make_schema(project)
    as_user(api, manager)
    response = api.post(
        reverse("api_batches", args=[project.pk]),
        {
            "name": "pilot",
            "kind": "pilot",
            "overlap": 3,
            "item_ids": [i.pk for i in items[:2]],
            "schema_version": schema.pk,
            "skip_policy": "drop",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["item_count"], body["overlap"], body["is_open"]) == (2, 3, False)
    batch_id = body["id"]
    assert next_item(as_user(api, annotator), project).status_code == 204
    as_user(api, manager)
    assert api.post(reverse("api_batch_open", args=[project.pk, batch_id])).json()["is_open"]
    assert next_item(as_user(api, annotator), project).status_code == 200
    as_user(api, manager)
    assert not api.post(reverse("api_batch_close", args=[project.pk, batch_id])).json()["is_open"]
    listed = api.get(reverse("api_batches", args=[project.pk])).json()
    assert [b["name"] for b in listed] == ["pilot"]


def test_batch_create_refuses_a_bad_overlap(api, project, manager):
    make_items(project, 1)
    response = as_user(api, manager).post(
        reverse("api_batches", args=[project.pk]), {"name": "b", "overlap": 0}, format="json"
    )
    assert response.status_code == 400
    assert not Batch.objects.exists()


@pytest.mark.parametrize("who", ["annotator", "reviewer"])
def test_only_managers_manage_batches(api, project, personas, batch, who):
    as_user(api, personas[who])
    assert api.get(reverse("api_batches", args=[project.pk])).status_code == 403
    response = api.post(reverse("api_batches", args=[project.pk]), {"name": "x"}, format="json")
    assert response.status_code == 403
    assert api.post(reverse("api_batch_open", args=[project.pk, batch.pk])).status_code == 403


def test_outsider_gets_403_everywhere(api, project, annotator, outsider, batch):
    body = next_item(as_user(api, annotator), project).json()
    as_user(api, outsider)
    lease_id, batch_item_id = body["lease_id"], body["batch_item_id"]
    urls = [
        ("get", reverse("api_next_item", args=[project.pk])),
        ("get", reverse("api_batches", args=[project.pk])),
        ("post", reverse("api_batches", args=[project.pk])),
        ("post", reverse("api_batch_open", args=[project.pk, batch.pk])),
        ("post", reverse("api_batch_close", args=[project.pk, batch.pk])),
        ("get", reverse("api_item_annotations", args=[batch_item_id])),
        ("post", reverse("api_item_annotations", args=[batch_item_id])),
        ("post", reverse("api_lease_skip", args=[lease_id])),
        ("post", reverse("api_lease_release", args=[lease_id])),
    ]
    for method, url in urls:
        assert getattr(api, method)(url, {}, format="json").status_code == 403, url
    assert Lease.objects.get().state == Lease.State.ACTIVE


def test_anonymous_is_refused(api, project, batch):
    assert next_item(api, project).status_code in (401, 403)


def test_unknown_ids_are_404(api, project, annotator):
    as_user(api, annotator)
    assert api.get(reverse("api_next_item", args=[999999])).status_code == 404
    assert api.post(reverse("api_lease_skip", args=[999999])).status_code == 404
    assert api.get(reverse("api_item_annotations", args=[999999])).status_code == 404
