"""The lean reads behind next-item and submit answer exactly what the serializers would, and
the HTTP hot path's query counts are pinned."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from annotation import queue
from annotation.api._hot_json import json_response
from annotation.api.labelling import (
    AnnotationSerializer,
    LeasedItemSerializer,
    SubmitSerializer,
    submission,
)
from annotation.models import Annotation, Label, SchemaVersion
from annotation.selectors import hot_path
from annotation.selectors import labelling as selectors
from annotation.selectors.workbench import Progress, batch_progress
from annotation.services import labelling as services
from tests.annotation.builders import make_batch, make_items, make_schema

pytestmark = pytest.mark.django_db


def serialized(lease_id: int) -> dict:
    return LeasedItemSerializer(selectors.lease_detail(lease_id)).data


@pytest.mark.parametrize("task_type", ["binary", "single", "multi"])
def test_leased_item_matches_the_serializer(
    project, annotator, task_type, django_assert_num_queries
):
    schema = make_schema(project, task_type, labels=("claim", "opinion", "fact"))
    Label.objects.filter(schema_version=schema, key="fact").update(hotkey="f", question="Fact?")
    make_batch(project, make_items(project, 2), schema_version=schema)
    now = timezone.now()
    lease = queue.next_item(project=project, annotator=annotator, now=now)
    hot_path.schema_question(schema.pk)  # a final schema is read once per process
    with django_assert_num_queries(0):  # the queue read the rest with the lease
        body = hot_path.leased_item(lease)
    assert body == serialized(lease.pk)
    # A reload hands back the same lease, read by another statement: the same answer.
    again = queue.next_item(project=project, annotator=annotator, now=now)
    assert hot_path.leased_item(again) == body


def test_leased_item_matches_the_serializer_for_a_proposed_label(project, annotator):
    make_schema(project)
    items = make_items(project, 1)
    make_batch(project, items, proposed_labels={items[0].pk: "claim"})
    lease = queue.next_item(project=project, annotator=annotator)
    body = hot_path.leased_item(lease)
    assert body["proposed_label"] == "claim" and body == serialized(lease.pk)


def test_submitted_annotation_matches_the_serializer(project, annotator):
    make_batch(project, make_items(project, 1))
    lease = queue.next_item(project=project, annotator=annotator)
    annotation = services.annotation_submit(
        lease=lease, by=annotator, answer="no", seconds_spent=2.5
    )
    expected = AnnotationSerializer(Annotation.objects.get(pk=annotation.pk)).data
    assert hot_path.submitted_annotation(annotation, annotator) == expected


def test_final_schema_is_read_once_drafts_every_time(project, annotator, django_assert_num_queries):
    final = make_schema(project, "single")
    draft = SchemaVersion.objects.create(project=project, number=2, task_type="single")
    Label.objects.create(schema_version=draft, key="a", name="A")
    hot_path.schema_question(final.pk)
    with django_assert_num_queries(0):
        assert [label["key"] for label in hot_path.schema_question(final.pk)["labels"]] == [
            "claim",
            "opinion",
        ]
    hot_path.schema_question(draft.pk)
    with django_assert_num_queries(2):
        hot_path.schema_question(draft.pk)
    # A label added to the draft shows at once.
    Label.objects.create(schema_version=draft, key="b", name="B", order=1)
    assert hot_path.schema_label_keys(draft) == {"a", "b"}


def test_an_edited_schema_version_is_read_again(project):
    schema = make_schema(project, "single")
    assert hot_path.schema_label_keys(schema) == {"claim", "opinion"}
    # Only the admin can do this to a final version; the cache must not hide it.
    Label.objects.filter(schema_version=schema, key="opinion").get().delete()
    assert hot_path.schema_label_keys(schema) == {"claim"}


def test_http_hot_path_query_counts_are_pinned(api, project, annotator, django_assert_num_queries):
    make_batch(project, make_items(project, 3), overlap=2)
    api.force_authenticate(annotator)  # no token lookup: one query fewer than over the wire
    url = reverse("api_next_item", args=[project.pk])

    def submit(body: dict):
        submit_url = reverse("api_item_annotations", args=[body["batch_item_id"]])
        return api.post(submit_url, {"lease": body["lease_id"], "answer": "yes"}, format="json")

    assert submit(api.get(url).json()).status_code == 201  # the schema is now cached
    # On PostgreSQL one call of dmops_next_item. Elsewhere a transaction (SAVEPOINT inside the
    # test's own) of membership, refusal, current lease and open batches together, the pick,
    # the guarded insert and RELEASE.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 5):
        body = api.get(url).json()
    # On PostgreSQL one call of dmops_submit. Elsewhere a transaction: lock the item and the
    # caller's lease if they are a member, reading the schema and the current guideline
    # version; insert the answer, update lease and item (three statements); RELEASE.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 6):
        assert submit(body).status_code == 201


def test_progress_counts_my_answers_in_this_batch_and_what_is_left(project, annotator, reviewer):
    items = make_items(project, 5)
    first = make_batch(project, items[:3], name="first", overlap=2, priority=2)
    second = make_batch(project, items[3:], name="second", overlap=2, priority=1)

    def answer_all(user) -> list[Annotation]:
        answers = []
        while (lease := queue.next_item(project=project, annotator=user)) is not None:
            answers.append(services.annotation_submit(lease=lease, by=user, answer="yes"))
        return answers

    mine = answer_all(annotator)
    lease = queue.next_item(project=project, annotator=reviewer)
    services.annotation_submit(lease=lease, by=reviewer, answer="no")

    stored = Annotation.objects.filter(pk__in=[a.pk for a in mine]).select_related("batch_item")
    assert len(stored) == 5 and all(a.batch_id == a.batch_item.batch_id for a in stored)
    assert batch_progress(first, annotator) == Progress(3, 2, False)
    assert batch_progress(second, annotator) == Progress(2, 2, False)
    assert batch_progress(first, reviewer) == Progress(1, 2, False)


SUBMIT_BODIES = [
    {"lease": 7, "answer": "yes"},
    {"lease": 7, "answer": "yes", "seconds_spent": 0},
    {"lease": 7, "answer": ["a", "b"], "seconds_spent": 2.5, "extra": 1},
    {"lease": 7, "answer": {"left": 1}, "seconds_spent": 3},
    {"lease": 7, "answer": 0, "seconds_spent": 1e300},
    {"lease": 7, "answer": False},
    {"lease": 7, "answer": "", "seconds_spent": 2**53},
    {"lease": 7, "answer": "yes", "seconds_spent": -1},
    {"lease": 7, "answer": "yes", "seconds_spent": -0.5},
    {"lease": 7, "answer": "yes", "seconds_spent": True},
    {"lease": 7, "answer": "yes", "seconds_spent": "3"},
    {"lease": 7, "answer": "yes", "seconds_spent": None},
    {"lease": 7, "answer": "yes", "seconds_spent": float("nan")},
    {"lease": 7, "answer": "yes", "seconds_spent": float("inf")},
    {"lease": 7, "answer": "yes", "seconds_spent": 10**400},
    {"lease": "7", "answer": "yes"},
    {"lease": 7.0, "answer": "yes"},
    {"lease": True, "answer": "yes"},
    {"lease": None, "answer": "yes"},
    {"answer": "yes"},
    {"lease": 7},
    {"lease": 7, "answer": None},
    [{"lease": 7, "answer": "yes"}],
    "lease=7",
]


@pytest.mark.parametrize("body", SUBMIT_BODIES, ids=repr)
def test_a_submit_body_is_read_as_the_serializer_reads_it(body):
    incoming = SubmitSerializer(data=body)
    fast = submission(body)
    if fast is None:
        return  # left to the serializer, which then decides
    assert incoming.is_valid(), incoming.errors
    assert fast == dict(incoming.validated_data)
    assert [type(v) for v in fast.values()] == [type(v) for v in incoming.validated_data.values()]


def test_the_usual_submit_body_skips_the_serializer():
    # What the workbench and the bench send: the fast reading must take it, or it saves nothing.
    assert submission({"lease": 7, "answer": "yes", "seconds_spent": 1.25}) == {
        "lease": 7,
        "answer": "yes",
        "seconds_spent": 1.25,
    }


def test_the_hot_path_writes_json_byte_for_byte_as_drf_would():
    body = {
        "lease_id": 7,
        "expires_at": "2026-12-06T09:41:05.130925Z",
        "text": 'Ein naïver Satz — 東京 "quoted"\n\u2028next\u2029',
        "metadata": {"page": "Köln", "before": ["a", "b"], "score": 0.1, "n": 3, "x": None},
        "seconds_spent": 2.0,
        "flags": [True, False],
    }
    response = json_response(body, status=201)
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert response.content == JSONRenderer().render(body)
    # Some floats are spelt differently (1.5e-7, 1.5e-07) and read back the same.
    numbers = {"big": 1e16, "small": 1.5e-7}
    assert json.loads(json_response(numbers).content) == json.loads(JSONRenderer().render(numbers))
