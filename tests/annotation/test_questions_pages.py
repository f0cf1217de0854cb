"""The question log's pages (htmx and plain) and REST API: flows, status codes and personas."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import BatchItem, GuidelineVersion, Question
from annotation.services import questions as services
from annotation.services.guideline import guideline_publish
from tests.annotation.builders import annotators_on, make_batch, make_items, make_schema
from tests.annotation.test_questions import annotate
from tests.dmops.factories import ProjectFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def guideline(project, manager):
    make_schema(project)
    body = "# Guide\n\n## Claim\n\nA claim needs a source.\n"
    return guideline_publish(project=project, by=manager, body=body, change_summary="First")


@pytest.fixture
def question(project, annotator, guideline):
    return services.question_ask(project=project, by=annotator, text="Is a quote a claim?")


@pytest.fixture
def answered(question, manager):
    return services.question_answer(question=question, by=manager, answer="Yes, unsourced.")


def page_urls(project, question) -> dict[str, str]:
    return {
        "list": reverse("questions", args=[project.pk]),
        "ask": reverse("question_ask", args=[project.pk]),
        "detail": reverse("question_detail", args=[project.pk, question.pk]),
        "stale": reverse("question_stale", args=[project.pk, question.pk]),
    }


# --- pages: permissions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("manager", {"list": 200, "ask": 200, "detail": 200, "stale": 200}),
        ("reviewer", {"list": 200, "ask": 200, "detail": 200, "stale": 403}),
        ("annotator", {"list": 200, "ask": 200, "detail": 200, "stale": 403}),
        ("outsider", {"list": 403, "ask": 403, "detail": 403, "stale": 403}),
    ],
)
def test_page_permissions(client, personas, project, question, who, expected):
    client.force_login(personas[who])
    got = {name: client.get(url).status_code for name, url in page_urls(project, question).items()}
    assert got == expected


@pytest.mark.parametrize("who", ["reviewer", "annotator", "outsider"])
def test_only_managers_post_answers_and_promotions(client, personas, project, answered, who):
    client.force_login(personas[who])
    answer_url = reverse("question_answer", args=[project.pk, answered.pk])
    promote_url = reverse("question_promote", args=[project.pk, answered.pk])
    assert client.post(answer_url, {"answer": "No"}).status_code == 403
    assert client.post(promote_url, {}).status_code == 403
    answered.refresh_from_db()
    assert (answered.answer, answered.status) == ("Yes, unsourced.", Question.Status.ANSWERED)


def test_anonymous_is_sent_to_log_in(client, project, question):
    for url in page_urls(project, question).values():
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response.url
    assert client.post(page_urls(project, question)["ask"], {"text": "Hi?"}).status_code == 302
    assert Question.objects.count() == 1


def test_an_annotator_cannot_open_another_annotators_open_question(client, project, question):
    client.force_login(annotators_on(project, 1)[0])
    assert client.get(page_urls(project, question)["detail"]).status_code == 404
    assert "Is a quote a claim?" not in client.get(page_urls(project, question)["list"]).text


# --- pages: asking ----------------------------------------------------------------------------


def test_htmx_ask_answers_with_a_confirmation_fragment(client, project, annotator, guideline):
    item = make_items(project, 1)[0]
    client.force_login(annotator)
    response = client.post(
        reverse("question_ask", args=[project.pk]),
        {"text": "Is a quote a claim?", "item": item.pk, "label": "claim", "next": "/x/"},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Question sent — you can keep working" in response.text
    assert "<html" not in response.text
    question = Question.objects.get()
    assert (question.item, question.label, question.asked_by) == (item, "claim", annotator)


def test_htmx_ask_with_errors_returns_the_form_with_them(client, project, annotator, guideline):
    elsewhere = make_items(ProjectFactory(name="Other"), 1)[0]
    client.force_login(annotator)
    url = reverse("question_ask", args=[project.pk])
    response = client.post(url, {"text": " ", "item": elsewhere.pk, "label": "nope"}, **HTMX)
    assert response.status_code == 422
    assert "not part of this project" in response.text and "<form" in response.text
    response = client.post(url, {"text": "", "label": "nope"}, **HTMX)
    assert "Write your question." in response.text and "not a label" in response.text
    assert not Question.objects.exists()


def test_plain_ask_redirects_to_a_local_next(client, project, annotator, guideline):
    client.force_login(annotator)
    url = reverse("question_ask", args=[project.pk])
    workbench = reverse("workbench", args=[project.pk])
    response = client.post(url, {"text": "Is a quote a claim?", "next": workbench})
    assert response.status_code == 303 and response.url == workbench
    response = client.post(url, {"text": "Again?", "next": "https://evil.example/"})
    assert response.status_code == 303 and response.url == reverse("questions", args=[project.pk])
    assert Question.objects.count() == 2


def test_plain_ask_with_an_error_shows_the_page_with_it(client, project, annotator, guideline):
    client.force_login(annotator)
    response = client.post(reverse("question_ask", args=[project.pk]), {"text": ""})
    assert response.status_code == 400
    assert "Write your question." in response.text and "<html" in response.text


def test_htmx_get_ask_gives_the_prefilled_form(client, project, annotator, guideline):
    client.force_login(annotator)
    url = reverse("question_ask", args=[project.pk]) + "?item=5&label=claim&next=/w/"
    response = client.get(url, **HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    assert 'value="5"' in response.text and 'value="claim" selected' in response.text


# --- pages: list, answer, promote, stale ------------------------------------------------------


def test_list_filters_and_htmx_returns_only_the_results(client, project, manager, answered):
    services.question_ask(project=project, by=manager, text="What about lists?")
    client.force_login(manager)
    url = reverse("questions", args=[project.pk])
    response = client.get(url, {"status": "answered"})
    assert "Is a quote a claim?" in response.text and "What about lists?" not in response.text
    response = client.get(url, {"q": "lists"}, **HTMX)
    assert 'id="results"' in response.text and "<html" not in response.text
    assert "What about lists?" in response.text and "Is a quote a claim?" not in response.text


def test_list_queries_do_not_grow_with_the_questions(
    client, project, manager, annotator, guideline
):
    client.force_login(manager)
    url = reverse("questions", args=[project.pk])

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    services.question_ask(project=project, by=annotator, text="First?")
    few = queries_for_list()
    for i in range(10):
        question = services.question_ask(project=project, by=annotator, text=f"Q{i}?")
        services.question_answer(question=question, by=manager, answer="A.")
    assert queries_for_list() == few


def test_manager_answers_and_promotes_with_htmx(client, project, manager, question):
    client.force_login(manager)
    answer_url = reverse("question_answer", args=[project.pk, question.pk])
    response = client.post(answer_url, {"answer": ""}, **HTMX)
    assert response.status_code == 422 and "Write an answer." in response.text
    response = client.post(answer_url, {"answer": "Yes, unsourced."}, **HTMX)
    assert response.status_code == 200 and 'id="question"' in response.text
    assert "Promote to the guideline" in response.text
    promote_url = reverse("question_promote", args=[project.pk, question.pk])
    response = client.post(promote_url, {"section": "Claim"}, **HTMX)
    assert response.status_code == 200 and "v2" in response.text
    version = GuidelineVersion.objects.get(project=project, number=2)
    assert "Yes, unsourced." in version.body
    response = client.post(promote_url, {"section": "Claim"}, **HTMX)
    assert response.status_code == 422 and "already in the guideline" in response.text


def test_plain_answer_and_promote_redirect_to_the_question(client, project, manager, question):
    client.force_login(manager)
    detail = reverse("question_detail", args=[project.pk, question.pk])
    response = client.post(
        reverse("question_answer", args=[project.pk, question.pk]), {"answer": "Yes."}
    )
    assert response.status_code == 302 and response.url == detail
    response = client.post(reverse("question_promote", args=[project.pk, question.pk]))
    assert response.status_code == 302 and response.url == detail
    question.refresh_from_db()
    assert question.status == Question.Status.PROMOTED


def test_opening_an_answered_question_marks_it_seen_for_the_asker(
    client, project, annotator, manager, answered
):
    client.force_login(manager)
    client.get(reverse("question_detail", args=[project.pk, answered.pk]))
    answered.refresh_from_db()
    assert answered.answer_seen_at is None
    client.force_login(annotator)
    response = client.get(reverse("question_detail", args=[project.pk, answered.pk]))
    assert "Yes, unsourced." in response.text
    answered.refresh_from_db()
    assert answered.answer_seen_at is not None


def test_answers_render_as_sanitised_markdown(client, project, manager, question):
    services.question_answer(question=question, by=manager, answer="**Yes**<script>x()</script>")
    client.force_login(manager)
    page = client.get(reverse("question_detail", args=[project.pk, question.pk])).text
    assert "<strong>Yes</strong>" in page and "<script>x()" not in page


def test_stale_page_lists_the_annotations_to_recheck(
    client, project, manager, annotator, guideline
):
    items = make_items(project, 2, prefix="Quoted")
    batch = make_batch(project, items)
    BatchItem.objects.filter(item=items[0]).update(proposed_label="claim")
    annotate(batch, items[0], annotator, "no", guideline)
    annotate(batch, items[1], annotator, "yes", guideline)  # no proposed label: unaffected
    question = services.question_ask(project=project, by=annotator, text="Q?", label="claim")
    services.question_answer(question=question, by=manager, answer="A.")
    services.question_promote(question=question, by=manager)
    client.force_login(manager)
    page = client.get(reverse("question_stale", args=[project.pk, question.pk])).text
    assert "1 annotation" in page and "Quoted number 0." in page and "Quoted number 1." not in page
    assert "annotator" in page and "v1" in page


def test_stale_page_lists_nothing_before_promotion(client, project, manager, answered):
    client.force_login(manager)
    response = client.get(reverse("question_stale", args=[project.pk, answered.pk]))
    assert response.status_code == 200 and "has not been promoted" in response.text


# --- REST API ---------------------------------------------------------------------------------


def as_user(api, user):
    api.force_authenticate(user)
    return api


def test_api_anonymous_is_401(api, project, question):
    urls = [
        reverse("api_questions", args=[project.pk]),
        reverse("api_question", args=[question.pk]),
    ]
    for url in urls:
        assert api.get(url).status_code == 401
    assert api.post(reverse("api_question_answer", args=[question.pk]), {}).status_code == 401
    assert api.post(reverse("api_question_promote", args=[question.pk]), {}).status_code == 401


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [
        ("manager", 200, 200),
        ("reviewer", 200, 403),
        ("annotator", 200, 403),
        ("outsider", 403, 403),
    ],
)
def test_api_permissions(api, personas, project, answered, who, read, write):
    as_user(api, personas[who])
    assert api.get(reverse("api_questions", args=[project.pk])).status_code == read
    assert api.get(reverse("api_question", args=[answered.pk])).status_code == read
    answer = api.post(reverse("api_question_answer", args=[answered.pk]), {"answer": "New."})
    assert answer.status_code == write
    promote = api.post(reverse("api_question_promote", args=[answered.pk]), {})
    assert promote.status_code == write
    ask = api.post(reverse("api_questions", args=[project.pk]), {"text": "Q?"})
    assert ask.status_code == (201 if read == 200 else 403)


def test_api_flow_ask_answer_promote(api, project, annotator, manager, guideline):
    item = make_items(project, 1)[0]
    created = as_user(api, annotator).post(
        reverse("api_questions", args=[project.pk]),
        {"text": "Is a quote a claim?", "item": item.pk, "label": "claim"},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "open" and body["asked_by"] == "annotator"
    assert (body["item"], body["label"], body["guideline_version"]) == (item.pk, "claim", 1)
    pk = body["id"]
    as_user(api, manager)
    premature = api.post(reverse("api_question_promote", args=[pk]), {})
    assert premature.status_code == 400
    answered = api.post(reverse("api_question_answer", args=[pk]), {"answer": "Yes."})
    assert answered.json()["status"] == "answered" and answered.json()["answered_by"] == "manager"
    promoted = api.post(reverse("api_question_promote", args=[pk]), {"section": "Claim"})
    assert promoted.status_code == 200 and promoted.json()["promoted_to"] == 2
    again = api.post(reverse("api_question_promote", args=[pk]), {})
    assert again.status_code == 400


def test_api_ask_validation(api, project, annotator, guideline):
    as_user(api, annotator)
    url = reverse("api_questions", args=[project.pk])
    elsewhere = make_items(ProjectFactory(name="Other"), 1)[0]
    assert api.post(url, {"text": "Q?", "item": elsewhere.pk}).status_code == 400
    response = api.post(url, {"text": "Q?", "label": "unknown"})
    assert response.status_code == 400 and "label" in response.json()
    assert api.post(url, {"text": ""}).status_code == 400
    assert not Question.objects.exists()


def test_api_list_visibility_and_filters(api, project, annotator, manager, answered):
    other = annotators_on(project, 1)[0]
    theirs = services.question_ask(project=project, by=other, text="Theirs about lists?")
    url = reverse("api_questions", args=[project.pk])
    ids = [q["id"] for q in as_user(api, annotator).get(url).json()["results"]]
    assert ids == [answered.pk]
    assert api.get(reverse("api_question", args=[theirs.pk])).status_code == 404
    as_user(api, manager)
    assert {q["id"] for q in api.get(url).json()["results"]} == {answered.pk, theirs.pk}
    assert [q["id"] for q in api.get(url, {"status": "open"}).json()["results"]] == [theirs.pk]
    assert [q["id"] for q in api.get(url, {"q": "LISTS"}).json()["results"]] == [theirs.pk]
    assert api.get(url, {"status": "bogus"}).status_code == 400
