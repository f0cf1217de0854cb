"""Step 7 over REST: training items and the pass rule, attempts and answers; gold answers stay
hidden from annotators until they answer; personas and status codes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import AnnotatorState, QualificationRule, TrainingItem
from tests.annotation.builders import make_items, make_schema
from tests.annotation.test_training import publish_guideline, set_up_training

pytestmark = pytest.mark.django_db


def as_user(api, user):
    api.force_authenticate(user)
    return api


def url(name, project, *args):
    return reverse(name, args=[project.pk, *args])


@pytest.fixture
def training(project, manager):
    return set_up_training(project, manager, n=3, min_correct=2)


def keys_in(value) -> set[str]:
    """Every key anywhere in a JSON body."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


# --- training items and the rule -----------------------------------------------------------


def test_manager_puts_and_gets_training_items(api, project, manager):
    make_schema(project)
    publish_guideline(project)
    first, second = make_items(project, 2)
    body = [
        {"item_id": second.pk, "answer": "no", "guideline_section": "Opinion"},
        {"item_id": first.pk, "answer": "yes", "explanation": "A fact."},
    ]
    response = as_user(api, manager).put(url("api_training_items", project), body, format="json")
    assert response.status_code == 200, response.content
    got = api.get(url("api_training_items", project)).json()
    assert got == response.json()
    assert [(t["item_id"], t["answer"], t["position"]) for t in got] == [
        (second.pk, "no", 0),
        (first.pk, "yes", 1),
    ]
    assert got[1]["explanation"] == "A fact." and got[0]["text"] == second.text


def test_bad_training_items_are_400_and_change_nothing(api, project, manager, training):
    body = [{"item_id": training[0].item_id, "answer": "perhaps"}]
    response = as_user(api, manager).put(url("api_training_items", project), body, format="json")
    assert response.status_code == 400 and "Answer one of" in str(response.json())
    assert TrainingItem.objects.count() == 3


def test_reviewer_reads_items_but_annotators_never_see_gold(api, project, personas, training):
    read = as_user(api, personas["reviewer"]).get(url("api_training_items", project))
    assert read.status_code == 200 and read.json()[0]["answer"] == "yes"
    put = api.put(url("api_training_items", project), [], format="json")
    assert put.status_code == 403
    for who in ("annotator", "outsider"):
        response = as_user(api, personas[who]).get(url("api_training_items", project))
        assert response.status_code == 403
    api.force_authenticate(None)
    assert api.get(url("api_training_items", project)).status_code == 401


def test_rule_is_read_by_members_and_written_by_managers(api, project, personas, training):
    for who in ("manager", "reviewer", "annotator"):
        body = as_user(api, personas[who]).get(url("api_training_rule", project)).json()
        assert body == {"min_correct": 2, "max_attempts": None, "training_items": 3}
    for who in ("reviewer", "annotator"):
        put = as_user(api, personas[who]).put(
            url("api_training_rule", project), {"min_correct": 1}, format="json"
        )
        assert put.status_code == 403
    response = as_user(api, personas["manager"]).put(
        url("api_training_rule", project), {"min_correct": 3, "max_attempts": 2}, format="json"
    )
    assert response.status_code == 200 and response.json()["max_attempts"] == 2
    too_many = api.put(url("api_training_rule", project), {"min_correct": 4}, format="json")
    assert too_many.status_code == 400 and "only 3 training items" in str(too_many.json())
    assert QualificationRule.objects.get().min_correct == 3
    assert (
        as_user(api, personas["outsider"]).get(url("api_training_rule", project)).status_code == 403
    )
    api.force_authenticate(None)
    assert api.get(url("api_training_rule", project)).status_code == 401


def test_rule_is_404_until_set(api, project, annotator):
    assert as_user(api, annotator).get(url("api_training_rule", project)).status_code == 404


# --- attempts ------------------------------------------------------------------------------


def test_annotator_starts_answers_and_qualifies(api, project, annotator, training):
    as_user(api, annotator)
    started = api.post(url("api_training_attempts", project))
    assert started.status_code == 201
    attempt = started.json()
    assert (attempt["number"], attempt["answered"], attempt["guideline_version"]) == (1, 0, 1)
    assert attempt["next_item"]["training_item"] == training[0].pk
    assert attempt["question"]["kind"] == "binary"
    assert [c["hotkey"] for c in attempt["question"]["choices"]] == ["y", "n", "u"]
    # Gold answers and explanations are not in what an annotator gets before answering.
    assert not keys_in(attempt) & {"answer", "gold", "explanation"}
    assert "Because 0." not in str(attempt)

    again = api.post(url("api_training_attempts", project))
    assert again.status_code == 200 and again.json()["id"] == attempt["id"]
    assert api.get(url("api_training_attempt_current", project)).json()["id"] == attempt["id"]

    answers = url("api_training_answers", project, attempt["id"])
    feedback = api.post(answers, {"training_item": training[0].pk, "answer": "no"}, format="json")
    assert feedback.status_code == 201
    body = feedback.json()
    assert (body["correct"], body["answer"], body["gold"]) == (False, "no", "yes")
    assert body["explanation"] == "Because 0." and body["guideline_section"] == "Claim"
    assert "states a fact a reader could doubt" in body["section_html"]
    assert body["attempt"]["answered"] == 1
    assert body["attempt"]["next_item"]["training_item"] == training[1].pk
    api.post(answers, {"training_item": training[1].pk, "answer": "no"}, format="json")
    last = api.post(answers, {"training_item": training[2].pk, "answer": "yes"}, format="json")
    result = last.json()["attempt"]
    assert (result["correct"], result["total"], result["passed"]) == (2, 3, True)
    assert result["next_item"] is None and result["finished_at"] is not None
    assert AnnotatorState.objects.get(user=annotator).qualified_at is not None
    assert api.get(url("api_training_attempt_current", project)).status_code == 404
    assert api.post(url("api_training_attempts", project)).status_code == 400


def test_bad_answers_are_400(api, project, annotator, training):
    attempt = as_user(api, annotator).post(url("api_training_attempts", project)).json()
    answers = url("api_training_answers", project, attempt["id"])
    bad = api.post(answers, {"training_item": training[0].pk, "answer": "maybe"}, format="json")
    assert bad.status_code == 400
    api.post(answers, {"training_item": training[0].pk, "answer": "yes"}, format="json")
    twice = api.post(answers, {"training_item": training[0].pk, "answer": "no"}, format="json")
    assert twice.status_code == 400 and "already answered" in str(twice.json())
    missing = api.post(answers, {"training_item": 999, "answer": "no"}, format="json")
    assert missing.status_code == 404


def test_someone_elses_attempt_is_404(api, project, annotator, training):
    from tests.annotation.builders import annotators_on

    attempt = as_user(api, annotator).post(url("api_training_attempts", project)).json()
    other = annotators_on(project, 1)[0]
    response = as_user(api, other).post(
        url("api_training_answers", project, attempt["id"]),
        {"training_item": training[0].pk, "answer": "yes"},
        format="json",
    )
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["manager", "reviewer", "outsider"])
def test_only_annotators_use_attempts(api, project, personas, training, who):
    as_user(api, personas[who])
    assert api.post(url("api_training_attempts", project)).status_code == 403
    assert api.get(url("api_training_attempt_current", project)).status_code == 403
    answer = {"training_item": training[0].pk, "answer": "yes"}
    assert api.post(url("api_training_answers", project, 1), answer).status_code == 403


def test_anonymous_attempts_are_401(api, project, training):
    assert api.post(url("api_training_attempts", project)).status_code == 401
    assert api.get(url("api_training_attempt_current", project)).status_code == 401
    answer = {"training_item": training[0].pk, "answer": "yes"}
    assert api.post(url("api_training_answers", project, 1), answer).status_code == 401
