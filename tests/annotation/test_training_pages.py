"""Step 7 training pages: the annotator's flow with and without htmx, the manager's setup and
how it finds candidate items, and who may open or post what."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse

from annotation.models import (
    AnnotatorState,
    Label,
    QualificationRule,
    TrainingAnswer,
    TrainingItem,
)
from annotation.selectors import training_setup as setup_selectors
from tests.annotation.builders import make_items, make_schema
from tests.annotation.test_training import set_up_training
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, project, *args):
    return reverse(name, args=[project.pk, *args])


@pytest.fixture
def training(project, manager):
    return set_up_training(project, manager, n=3, min_correct=2, max_attempts=2)


def answer(client, project, training_item, value, **extra):
    attempt = training_item.project.training_attempts.get(finished_at__isnull=True)
    data = {"attempt": attempt.pk, "training_item": training_item.pk, "answer": value}
    return client.post(url("training_answer", project), data, **extra)


# --- the annotator's flow ------------------------------------------------------------------


def test_annotator_reads_the_guideline_and_starts(client, project, annotator, training):
    page = client_for(client, annotator).get(url("training", project))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Qualify for this project" in html and "Start training" in html
    assert 'id="guideline-panel" open' in html and "states a fact a reader could doubt" in html
    assert "js/training.js" in html
    assert "Because 0." not in html  # no explanation (or gold) before answering
    # Opening training counts as joining: the roster stops showing them as invited.
    assert AnnotatorState.objects.get(project=project, user=annotator).joined_at is not None


def test_no_js_flow_feedback_then_next_then_qualified(client, project, annotator, training):
    client_for(client, annotator)
    started = client.post(url("training_start", project))
    assert started.status_code == 302 and started.url == url("training", project)
    page = client.get(url("training", project)).content.decode()
    assert training[0].item.text in page and "item 1 of 3" in page
    assert 'data-hotkey="y"' in page and 'value="unsure"' in page

    response = answer(client, project, training[0], "no")
    recorded = TrainingAnswer.objects.get()
    assert response.status_code == 302
    assert response.url == url("training", project) + f"?answered={recorded.pk}"
    feedback = client.get(response.url).content.decode()
    assert "Not quite" in feedback and "correct answer: <strong>Yes</strong>" in feedback
    assert "Because 0." in feedback and "data-next" in feedback
    section = feedback.split('class="training-section"')[1].split("</section>")[0]
    assert "<h2>Claim</h2>" in section and "states a fact a reader could doubt" in section
    assert "Opinion" not in section

    answer(client, project, training[1], "no")
    last = answer(client, project, training[2], "yes")
    assert (
        "That was the last item: <strong>2 of 3</strong>" in client.get(last.url).content.decode()
    )
    done = client.get(url("training", project)).content.decode()
    assert "You are qualified" in done and url("workbench", project) in done
    assert AnnotatorState.objects.get(user=annotator).qualified_at is not None


def test_failed_attempt_shows_score_and_retry(client, project, annotator, training):
    client_for(client, annotator).post(url("training_start", project))
    for training_item in training:
        answer(client, project, training_item, "unsure")
    page = client.get(url("training", project)).content.decode()
    assert "Not passed yet" in page and "<strong>0 of 3</strong> correct; 2 are needed" in page
    assert "Re-read the guideline" in page and "Retry (attempt 2)" in page
    assert "Attempts used: 1 of 2" in page


def test_no_attempt_left_says_ask_a_manager(client, project, manager, annotator):
    training = set_up_training(project, manager, n=1, min_correct=1, max_attempts=1)
    client_for(client, annotator).post(url("training_start", project))
    answer(client, project, training[0], "no")
    page = client.get(url("training", project)).content.decode()
    assert "used all your attempts" in page and "Retry" not in page
    refused = client.post(url("training_start", project))
    assert refused.status_code == 400 and "used all 1 training attempts" in refused.content.decode()


def test_htmx_answer_swaps_in_feedback_then_the_next_item(client, project, annotator, training):
    client_for(client, annotator)
    started = client.post(url("training_start", project), **HTMX)
    assert started.status_code == 200 and started.content.decode().startswith(
        '\n<section id="trainer"'
    )
    response = answer(client, project, training[0], "yes", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'id="trainer"' in html and "✓ Right" in html and "Because 0." in html
    following = client.get(url("training", project), **HTMX).content.decode()
    assert "<html" not in following and training[1].item.text in following


def test_htmx_error_is_shown_in_the_fragment(client, project, annotator, training):
    client_for(client, annotator).post(url("training_start", project))
    answer(client, project, training[0], "yes")
    again = answer(client, project, training[0], "no", **HTMX)
    assert again.status_code == 200 and "already answered" in again.content.decode()
    assert answer(client, project, training[1], "maybe").status_code == 400


def test_multi_label_items_use_checkboxes_with_hotkeys(client, project, manager, annotator):
    make_schema(project, "multi", labels=("claim", "opinion"))
    Label.objects.filter(key="claim").update(hotkey="c")
    item = make_items(project, 1)[0]
    client_for(client, manager).post(
        url("training_item", project), {"item_id": item.pk, "answer": "claim, opinion"}
    )
    client.post(url("training_rule", project), {"min_correct": 1})
    client_for(client, annotator).post(url("training_start", project))
    page = client.get(url("training", project)).content.decode()
    assert 'type="checkbox" name="answer" value="claim" data-hotkey="c"' in page
    response = answer(client, project, TrainingItem.objects.get(), ["opinion", "claim"])
    assert "✓ Right" in client.get(response.url).content.decode()


def test_training_not_set_up(client, project, annotator):
    page = client_for(client, annotator).get(url("training", project)).content.decode()
    assert "Training is not set up yet" in page and "go to the workbench" in page


def test_someone_elses_answer_is_404(client, project, annotator, training):
    client_for(client, annotator).post(url("training_start", project))
    answer(client, project, training[0], "yes")
    other = project.memberships.model.objects.create(
        project=project,
        user=type(annotator).objects.create(username="ann2"),
        role="annotator",
    ).user
    mine = TrainingAnswer.objects.get().pk
    response = client_for(client, other).get(url("training", project) + f"?answered={mine}")
    assert response.status_code == 404


# --- the manager's setup -------------------------------------------------------------------


def test_manager_sees_gold_rule_gate_and_annotators(client, project, manager, annotator, training):
    page = client_for(client, manager).get(url("training", project)).content.decode()
    assert "Qualify with <strong>2 of 3</strong> correct; 2 attempts allowed" in page
    assert "Because 0." in page and "Save rule" in page and "Save training item" in page
    assert (
        "Training items and a pass rule are set" in page and "Not qualified yet: annotator" in page
    )
    assert "<td>annotator</td>" in page and "not started" in page


def test_manager_adds_edits_and_removes_a_training_item(client, project, manager, training):
    client_for(client, manager)
    item = make_items(project, 1, prefix="Extra")[0]
    added = client.post(
        url("training_item", project),
        {
            "item_id": item.pk,
            "answer": "no",
            "explanation": "Opinion.",
            "guideline_section": "Opinion",
        },
    )
    assert added.status_code == 302
    extra = TrainingItem.objects.get(item=item)
    assert (extra.answer, extra.position, extra.guideline_section) == ("no", 3, "Opinion")
    edit = client.get(url("training", project) + f"?edit={extra.pk}").content.decode()
    assert f'value="{item.pk}"' in edit and "\nOpinion.</textarea>" in edit
    removed = client.post(url("training_item_remove", project, extra.pk))
    assert removed.status_code == 302 and not TrainingItem.objects.filter(item=item).exists()


def test_manager_errors_are_400_with_the_reason(client, project, manager, training):
    client_for(client, manager)
    item = make_items(project, 1, prefix="Extra")[0]
    bad = client.post(url("training_item", project), {"item_id": item.pk, "answer": "perhaps"})
    assert bad.status_code == 400 and "Answer one of yes, no, unsure" in bad.content.decode()
    rule = client.post(url("training_rule", project), {"min_correct": 9})
    assert rule.status_code == 400 and "only 3 training items" in rule.content.decode()
    assert QualificationRule.objects.get().min_correct == 2


def test_manager_sets_the_rule(client, project, manager, training):
    response = client_for(client, manager).post(
        url("training_rule", project), {"min_correct": 3, "max_attempts": ""}
    )
    assert response.status_code == 302
    rule = QualificationRule.objects.get()
    assert (rule.min_correct, rule.max_attempts, rule.updated_by) == (3, None, manager)


def test_manager_finds_candidates_by_text_id_and_sample(client, project, manager, training):
    client_for(client, manager)
    pool = make_items(project, 4, prefix="Pool")
    by_text = client.get(url("training", project), {"q": "Pool number 2"}).content.decode()
    assert f"?item={pool[2].pk}#item-form" in by_text and f"?item={pool[1].pk}#" not in by_text
    by_id = client.get(url("training", project), {"ids": f"{pool[0].pk}, {pool[3].pk}"})
    assert by_id.content.decode().count("Use as training item") == 2
    sample = client.get(url("training", project), {"sample": 2}).content.decode()
    assert sample.count("Use as training item") == 2
    prefilled = client.get(url("training", project), {"item": pool[0].pk}).content.decode()
    assert f'name="item_id" value="{pool[0].pk}"' in prefilled


def test_reviewer_sees_the_setup_read_only(client, project, reviewer, training):
    page = client_for(client, reviewer).get(url("training", project)).content.decode()
    assert "Because 0." in page and "Save rule" not in page and "Remove" not in page


# --- permissions ---------------------------------------------------------------------------


def posts(project, training):
    return [
        (url("training_item", project), {"item_id": training[0].item_id, "answer": "no"}),
        (url("training_item_remove", project, training[0].pk), {}),
        (url("training_rule", project), {"min_correct": 1}),
    ]


@pytest.mark.parametrize("who", ["reviewer", "annotator", "outsider"])
def test_only_managers_change_the_setup(client, project, personas, training, who):
    client_for(client, personas[who])
    for path, data in posts(project, training):
        assert client.post(path, data).status_code == 403, path
    assert TrainingItem.objects.count() == 3 and QualificationRule.objects.get().min_correct == 2


@pytest.mark.parametrize("who", ["manager", "reviewer", "outsider"])
def test_only_annotators_take_training(client, project, personas, training, who):
    client_for(client, personas[who])
    assert client.post(url("training_start", project)).status_code == 403
    data = {"attempt": 1, "training_item": training[0].pk, "answer": "yes"}
    assert client.post(url("training_answer", project), data).status_code == 403


def test_outsider_gets_403_and_anonymous_goes_to_login(client, project, outsider, training):
    assert client.get(url("training", project)).status_code == 302
    for path, data in posts(project, training):
        response = client.post(path, data)
        assert response.status_code == 302 and "login" in response.url
    assert client.post(url("training_start", project)).status_code == 302
    assert client_for(client, outsider).get(url("training", project)).status_code == 403


@pytest.mark.parametrize("who", ["manager", "reviewer", "annotator"])
def test_every_member_opens_the_training_page(client, project, personas, training, who):
    assert client_for(client, personas[who]).get(url("training", project)).status_code == 200


def test_sample_candidates_skips_training_items(project, manager):
    items = set_up_training(project, manager, n=2, min_correct=1)
    others = make_items(project, 5, prefix="Pool")
    # Even if every draw lands on the lowest id (they may repeat), the sample is full.
    lowest = type("Lowest", (random.Random,), {"randint": lambda self, low, high: low})()
    sample = setup_selectors.candidates_sample(project, 3, rng=lowest)
    assert len(sample) == 3 and {i.pk for i in sample} <= {i.pk for i in others}
    assert len(setup_selectors.candidates_sample(project, 20)) == 5
    assert setup_selectors.candidates_search(project, "Pool number 4")[0] == others[4]
    assert setup_selectors.candidates_by_id(project, [items[0].item_id]) == []
