"""The annotator workbench (step 8): serving, answering with and without htmx, context,
guideline panel, answers notice, permissions and the page's query budget."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation.models import (
    Annotation,
    AnnotatorState,
    Item,
    Label,
    Lease,
    QualificationRule,
    Source,
)
from annotation.selectors.workbench import wiki_context
from tests.annotation.builders import make_batch, make_items, make_schema
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def work_url(project, name: str = "workbench") -> str:
    return reverse(name, args=[project.pk])


def current_lease(annotator) -> Lease:
    return Lease.objects.get(annotator=annotator, state=Lease.State.ACTIVE)


def answer(client, project, lease, value="yes", *, htmx=False, **extra):
    data = {"lease": lease.pk, "answer": value, **extra}
    return client.post(work_url(project, "workbench_answer"), data, **(HTMX if htmx else {}))


# --- serving ---------------------------------------------------------------------------------


def test_annotator_gets_an_item_at_once_and_reload_keeps_it(
    as_annotator, project, annotator, binary_batch
):
    response = as_annotator.get(work_url(project))
    assert response.status_code == 200
    lease = current_lease(annotator)
    assert f'data-lease="{lease.pk}"' in response.content.decode()
    assert lease.batch_item.item.text in response.content.decode()
    as_annotator.get(work_url(project))
    assert Lease.objects.filter(annotator=annotator).count() == 1


@pytest.mark.parametrize("who", ["manager", "reviewer"])
def test_managers_and_reviewers_may_label_too(client, project, personas, binary_batch, who):
    assert client_for(client, personas[who]).get(work_url(project)).status_code == 200
    assert Lease.objects.filter(annotator=personas[who]).exists()


def test_first_visit_records_when_the_annotator_joined(as_annotator, project, annotator):
    as_annotator.get(work_url(project))
    joined = AnnotatorState.objects.get(project=project, user=annotator).joined_at
    assert joined is not None
    as_annotator.get(work_url(project))
    assert AnnotatorState.objects.get(project=project, user=annotator).joined_at == joined


def test_unqualified_annotator_is_sent_to_training(as_annotator, project, binary_batch):
    QualificationRule.objects.create(project=project, min_correct=8, max_attempts=3)
    response = as_annotator.get(work_url(project))
    assert response.status_code == 303
    assert response["Location"] == reverse("training", args=[project.pk])
    assert not Lease.objects.exists()


def test_paused_annotator_is_told_so_and_gets_nothing(
    as_annotator, project, manager, annotator, binary_batch
):
    AnnotatorState.objects.create(project=project, user=annotator, paused=True)
    response = as_annotator.get(work_url(project))
    assert response.status_code == 200
    assert "A manager paused you" in response.content.decode()
    assert not Lease.objects.exists()


def test_nothing_left_page_shows_counts(as_annotator, project, annotator):
    make_batch(project, make_items(project, 2), overlap=2)
    for _ in range(2):
        as_annotator.get(work_url(project))
        answer(as_annotator, project, current_lease(annotator))
    page = as_annotator.get(work_url(project)).content.decode()
    assert "Nothing left in open batches" in page
    counts = re.search(r'data-testid="empty-counts">(.*?)</p>', page, re.S).group(1)
    assert "<strong>2</strong> items in 1 open batch;" in counts
    assert "<strong>2</strong> items still wait" in counts


# --- what the item shows -----------------------------------------------------------------------


def test_binary_verification_shows_label_question_and_answer_keys(as_annotator, project):
    schema = make_schema(project, labels=("citation-needed", "weasel"))
    Label.objects.filter(schema_version=schema, key="weasel").update(
        name="Weasel words", question="Does it use vague attribution?"
    )
    items = make_items(project, 1)
    make_batch(project, items, proposed_labels={items[0].pk: "weasel"})
    page = as_annotator.get(work_url(project)).content.decode()
    assert "Weasel words" in page and "Does it use vague attribution?" in page
    for key, value in (("y", "yes"), ("n", "no"), ("u", "unsure")):
        assert f'value="{value}" data-hotkey="{key}"' in page
    for key in ("s", "z", "q"):
        assert f'data-hotkey="{key}"' in page
    assert 'aria-live="polite"' in page and 'tabindex="-1"' in page


def wiki_items(project, sentences, title="Fleet Street"):
    source = Source.objects.create(project=project, name="w", format="wikitext", licence="cc0-1.0")
    return Item.objects.bulk_create(
        Item(
            project=project,
            source=source,
            position=i + 1,
            text=text,
            raw_text=text,
            text_hash=f"wiki-{i}",
            metadata={
                "page_title": title,
                "section": "History",
                "paragraph_index": 0,
                "sentence_index": i,
            },
        )
        for i, text in enumerate(sentences)
    )


def test_wikipedia_items_show_page_section_and_neighbouring_sentences(as_annotator, project):
    items = wiki_items(project, ["First it rained.", "Then it poured.", "Finally it dried."])
    make_batch(project, [items[1]])
    page = as_annotator.get(work_url(project)).content.decode()
    assert "Fleet Street › History" in page
    assert re.search(r'data-testid="before">First it rained\.<', page)
    assert re.search(r'data-testid="sentence">Then it poured\.<', page)
    assert re.search(r'data-testid="after">Finally it dried\.<', page)


def test_context_never_borrows_a_sentence_of_another_page(project):
    items = wiki_items(project, ["A one.", "A two."], title="A")
    other = Item.objects.create(
        project=project,
        source=items[0].source,
        position=3,
        text="B one.",
        raw_text="B one.",
        text_hash="b-1",
        metadata={"page_title": "B", "section": "", "sentence_index": 0},
    )
    context = wiki_context(items[1])
    assert (context.before, context.after) == ("A one.", "")
    assert wiki_context(other).before == "" and wiki_context(other).section == ""


def test_single_multi_and_pairwise_items_get_their_controls(client, project, annotator):
    as_user = client_for(client, annotator)
    single = make_schema(project, "single", labels=("claim", "opinion"))
    Label.objects.filter(schema_version=single, key="claim").update(hotkey="c")
    make_batch(project, make_items(project, 1, prefix="S"), schema_version=single, name="single")
    page = as_user.get(work_url(project)).content.decode()
    assert 'value="claim" data-hotkey="c"' in page and "Claim" in page
    answer(as_user, project, current_lease(annotator), "claim")

    multi = make_schema(project, "multi", labels=("claim", "opinion"))
    Label.objects.filter(schema_version=multi, key="opinion").update(hotkey="o")
    make_batch(project, make_items(project, 1, prefix="M"), schema_version=multi, name="multi")
    page = as_user.get(work_url(project)).content.decode()
    assert 'type="checkbox" name="answer" value="opinion" data-hotkey="o"' in page
    assert 'data-hotkey="Enter"' in page
    lease = current_lease(annotator)
    as_user.post(
        work_url(project, "workbench_answer"), {"lease": lease.pk, "answer": ["claim", "opinion"]}
    )
    assert Annotation.objects.get(batch_item=lease.batch_item).answer == ["claim", "opinion"]

    pair = make_schema(project, "pairwise", labels=("better", "worse"))
    source_item = make_items(project, 1, prefix="P")[0]
    Item.objects.filter(pk=source_item.pk).update(metadata={"a": "Left text", "b": "Right text"})
    make_batch(project, [source_item], schema_version=pair, name="pair")
    page = as_user.get(work_url(project)).content.decode()
    assert "Left text" in page and "Right text" in page
    for key, value in (("a", "a"), ("b", "b"), ("t", "tie")):
        assert f'value="{value}" data-hotkey="{key}"' in page
    answer(as_user, project, current_lease(annotator), "tie")
    assert Annotation.objects.filter(answer="tie").exists()


# --- answering ---------------------------------------------------------------------------------


def test_answer_without_javascript_redirects_back_and_stores_versions(
    as_annotator, project, annotator, guideline, binary_batch
):
    as_annotator.get(work_url(project))
    lease = current_lease(annotator)
    response = answer(as_annotator, project, lease, "no")
    assert response.status_code == 303
    assert response["Location"] == work_url(project)
    stored = Annotation.objects.get()
    assert (stored.answer, stored.annotator) == ("no", annotator)
    assert stored.schema_version == binary_batch.schema_version
    assert stored.guideline_version == guideline
    as_annotator.get(work_url(project))
    assert current_lease(annotator).pk != lease.pk


def test_answer_with_htmx_swaps_in_the_next_item_and_announces_it(
    as_annotator, project, annotator, binary_batch
):
    as_annotator.get(work_url(project))
    first = current_lease(annotator)
    response = answer(as_annotator, project, first, "yes", htmx=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and 'id="wb-item"' in body
    second = current_lease(annotator)
    assert second.pk != first.pk and f'data-lease="{second.pk}"' in body
    assert re.search(r'id="wb-status"[^>]*hx-swap-oob="true">Answer saved', body)
    assert "<strong>1</strong> done by you" in body
    assert "<strong>3</strong> left in the batch" in body  # overlap 2: nothing complete yet


def test_time_on_the_item_is_recorded_and_capped_at_the_lease_time(
    as_annotator, project, annotator
):
    make_batch(project, make_items(project, 3), lease_ttl=120)
    as_annotator.get(work_url(project))
    answer(as_annotator, project, current_lease(annotator), "yes", ms=4500)
    as_annotator.get(work_url(project))
    answer(as_annotator, project, current_lease(annotator), "yes", ms=10_000_000)
    as_annotator.get(work_url(project))
    lease = current_lease(annotator)
    Lease.objects.filter(pk=lease.pk).update(created_at=timezone.now() - timedelta(seconds=7))
    answer(as_annotator, project, lease, "yes")  # no JavaScript: measured from the lease
    spent = list(Annotation.objects.order_by("pk").values_list("seconds_spent", flat=True))
    assert spent[:2] == [4.5, 120.0]
    assert 7 <= spent[2] < 20


def test_a_wrong_answer_is_shown_and_nothing_is_stored(
    as_annotator, project, annotator, binary_batch
):
    as_annotator.get(work_url(project))
    lease = current_lease(annotator)
    body = answer(as_annotator, project, lease, "perhaps", htmx=True).content.decode()
    assert 'role="alert"' in body and "Answer one of yes, no, unsure." in body
    assert f'data-lease="{lease.pk}"' in body
    assert not Annotation.objects.exists()
    response = answer(as_annotator, project, lease, "perhaps")
    assert response.status_code == 303
    page = as_annotator.get(response["Location"]).content.decode()
    assert "Answer one of yes, no, unsure." in page


def test_answering_twice_with_one_lease_is_refused(as_annotator, project, annotator, binary_batch):
    as_annotator.get(work_url(project))
    lease = current_lease(annotator)
    answer(as_annotator, project, lease, "yes", htmx=True)
    body = answer(as_annotator, project, lease, "no", htmx=True).content.decode()
    assert "already submitted" in body
    assert list(Annotation.objects.values_list("answer", flat=True)) == ["yes"]


def test_skip_moves_on(as_annotator, project, annotator, binary_batch):
    as_annotator.get(work_url(project))
    lease = current_lease(annotator)
    body = as_annotator.post(
        work_url(project, "workbench_skip"), {"lease": lease.pk}, **HTMX
    ).content.decode()
    lease.refresh_from_db()
    assert lease.state == Lease.State.SKIPPED
    assert f'data-lease="{current_lease(annotator).pk}"' in body
    response = as_annotator.post(
        work_url(project, "workbench_skip"), {"lease": current_lease(annotator).pk}
    )
    assert response.status_code == 303


def test_another_annotators_lease_is_404(client, project, annotator, reviewer, binary_batch):
    client_for(client, annotator).get(work_url(project))
    lease = current_lease(annotator)
    response = answer(client_for(client, reviewer), project, lease)
    assert response.status_code == 404
    assert not Annotation.objects.exists()


# --- permissions and cost ----------------------------------------------------------------------


def test_outsider_gets_403_on_every_workbench_url(
    client, project, annotator, outsider, binary_batch
):
    client_for(client, annotator).get(work_url(project))
    lease = current_lease(annotator)
    client_for(client, outsider)
    assert client.get(work_url(project)).status_code == 403
    for name in ("workbench_answer", "workbench_skip", "workbench_undo", "workbench_answers_seen"):
        assert (
            client.post(work_url(project, name), {"lease": lease.pk, "answer": "yes"}).status_code
            == 403
        )
    assert not Annotation.objects.exists() and current_lease(annotator).pk == lease.pk


def test_anonymous_is_sent_to_log_in(client, project):
    response = client.get(work_url(project))
    assert response.status_code == 302 and "login" in response["Location"]
    assert client.post(work_url(project, "workbench_answer")).status_code == 302


def test_workbench_page_render_stays_within_a_query_budget(
    as_annotator, project, annotator, guideline
):
    items = wiki_items(project, [f"Sentence {i}." for i in range(5)])
    make_schema(project, labels=("claim",))
    make_batch(project, items)
    as_annotator.get(work_url(project))  # the first visit leases and joins
    with CaptureQueriesContext(connection) as queries:
        assert as_annotator.get(work_url(project)).status_code == 200
    assert len(queries) <= 18, "\n".join(q["sql"] for q in queries)
    lease = current_lease(annotator)
    with CaptureQueriesContext(connection) as queries:
        answer(as_annotator, project, lease, "yes", htmx=True)
    assert len(queries) <= 27, "\n".join(q["sql"] for q in queries)


def test_undo_through_the_page_brings_the_last_item_back(
    as_annotator, project, annotator, binary_batch
):
    as_annotator.get(work_url(project))
    first = current_lease(annotator)
    answer(as_annotator, project, first, "yes")
    as_annotator.get(work_url(project))
    body = as_annotator.post(work_url(project, "workbench_undo"), **HTMX).content.decode()
    assert f'data-lease="{first.pk}"' in body and "undone" in body
    assert not Annotation.objects.exists()
    response = as_annotator.post(work_url(project, "workbench_undo"))
    assert response.status_code == 303
    assert "Nothing to undo" in as_annotator.get(work_url(project)).content.decode()


def test_a_garbled_time_loses_only_the_time(as_annotator, project, annotator, binary_batch):
    as_annotator.get(work_url(project))
    response = answer(as_annotator, project, current_lease(annotator), "yes", ms="-5")
    assert response.status_code == 303
    assert 0 <= Annotation.objects.get().seconds_spent < 60


def test_htmx_answer_after_a_pause_shows_the_paused_notice(
    as_annotator, project, annotator, manager, binary_batch
):
    as_annotator.get(work_url(project))
    lease = current_lease(annotator)
    AnnotatorState.objects.filter(project=project, user=annotator).update(paused=True)
    body = answer(as_annotator, project, lease, "yes", htmx=True).content.decode()
    assert Annotation.objects.count() == 1  # the item on screen still counts
    assert "A manager paused you" in body and "data-lease" not in body


def test_htmx_answer_when_qualification_is_required_redirects_the_page(
    as_annotator, project, annotator, binary_batch
):
    as_annotator.get(work_url(project))
    lease = current_lease(annotator)
    QualificationRule.objects.create(project=project, min_correct=8, max_attempts=3)
    response = answer(as_annotator, project, lease, "yes", htmx=True)
    assert response["HX-Redirect"] == reverse("training", args=[project.pk])
