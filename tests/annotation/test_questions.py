"""The question log's rules: asking, answering, promoting into the guideline, who sees what,
unseen answers, search and the stale re-check list. Pages and API: test_questions_pages.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from annotation.models import Annotation, BatchItem, GuidelineVersion, Question
from annotation.selectors import questions as selectors
from annotation.services import questions as services
from annotation.services.guideline import guideline_publish
from tests.annotation.builders import annotators_on, make_batch, make_items, make_schema
from tests.dmops.factories import ProjectFactory

pytestmark = pytest.mark.django_db

GUIDELINE = "# Guide\n\n## Claim\n\nA claim needs a source.\n\n## Opinion\n\nOpinions do not.\n"


@pytest.fixture
def guideline(project, manager):
    make_schema(project)  # binary, labels claim and opinion
    return guideline_publish(project=project, by=manager, body=GUIDELINE, change_summary="First")


def ask(project, by, text="Is a quote a claim?", **kwargs):
    return services.question_ask(project=project, by=by, text=text, **kwargs)


def answered(project, asker, manager, label="", text="Is a quote a claim?"):
    question = ask(project, asker, text=text, label=label)
    return services.question_answer(question=question, by=manager, answer="Yes, if unsourced.")


# --- asking -----------------------------------------------------------------------------------


def test_ask_records_the_current_guideline_item_and_label(project, annotator, guideline):
    item = make_items(project, 1)[0]
    question = ask(project, annotator, text="  Is a quote a claim?  ", item=item, label="claim")
    assert (question.text, question.label, question.item) == ("Is a quote a claim?", "claim", item)
    assert question.status == Question.Status.OPEN
    assert question.guideline_version == guideline
    assert question.asked_by == annotator


def test_every_member_may_ask_but_not_an_outsider(project, personas, guideline):
    for name in ("manager", "reviewer", "annotator"):
        ask(project, personas[name])
    with pytest.raises(PermissionDenied):
        ask(project, personas["outsider"])
    assert Question.objects.count() == 3


def test_ask_refuses_an_item_of_another_project(project, annotator, guideline):
    elsewhere = make_items(ProjectFactory(name="Other"), 1)[0]
    with pytest.raises(ValidationError) as exc:
        ask(project, annotator, item=elsewhere)
    assert "item" in exc.value.message_dict
    assert not Question.objects.exists()


def test_ask_refuses_a_label_not_in_the_latest_schema(project, annotator, guideline):
    make_schema(project, labels=("fact",))  # v2 replaces claim/opinion
    with pytest.raises(ValidationError) as exc:
        ask(project, annotator, label="claim")
    assert "label" in exc.value.message_dict
    assert ask(project, annotator, label="fact").label == "fact"


@pytest.mark.parametrize("text", ["", "   \n ", "x" * (services.MAX_QUESTION_LENGTH + 1)])
def test_ask_refuses_empty_or_overlong_text(project, annotator, guideline, text):
    with pytest.raises(ValidationError) as exc:
        ask(project, annotator, text=text)
    assert "text" in exc.value.message_dict


# --- answering --------------------------------------------------------------------------------


def test_manager_answers_and_may_edit_the_answer(project, manager, annotator, guideline):
    question = answered(project, annotator, manager)
    assert question.status == Question.Status.ANSWERED and question.answered_by == manager
    services.question_mark_seen(questions=question, by=annotator)
    question = services.question_answer(question=question, by=manager, answer="Only if quoted.")
    question.refresh_from_db()
    assert question.answer == "Only if quoted."
    assert question.answer_seen_at is None  # the asker is shown the edited answer again


@pytest.mark.parametrize("who", ["reviewer", "annotator"])
def test_only_managers_answer(project, personas, guideline, who):
    question = ask(project, personas["annotator"])
    with pytest.raises(PermissionDenied):
        services.question_answer(question=question, by=personas[who], answer="Yes")
    question.refresh_from_db()
    assert question.status == Question.Status.OPEN


def test_an_empty_answer_is_refused(project, manager, annotator, guideline):
    question = ask(project, annotator)
    with pytest.raises(ValidationError):
        services.question_answer(question=question, by=manager, answer="  ")


# --- promoting --------------------------------------------------------------------------------


def test_promote_publishes_the_next_version_with_the_qa(project, manager, annotator, guideline):
    question = answered(project, annotator, manager)
    question = services.question_promote(question=question, by=manager)
    version = GuidelineVersion.objects.get(project=project, number=2)
    assert question.status == Question.Status.PROMOTED and question.promoted_to == version
    assert version.body.startswith(GUIDELINE.rstrip("\n"))
    assert "## Clarifications" in version.body
    assert "Is a quote a claim?" in version.body and "Yes, if unsourced." in version.body
    assert version.change_summary == f"Q&A #{question.pk}: Is a quote a claim?"


def test_promote_under_a_named_section_keeps_the_rest_in_place(
    project, manager, annotator, guideline
):
    question = answered(project, annotator, manager, label="claim")
    services.question_promote(question=question, by=manager, section="Claim")
    body = GuidelineVersion.objects.get(number=2).body
    assert "Clarifications" not in body
    claim, qa, opinion = (body.index(s) for s in ("## Claim", "Yes, if unsourced.", "## Opinion"))
    assert claim < qa < opinion
    assert body.count("## Opinion") == 1


def test_a_second_promotion_reuses_the_clarifications_section(
    project, manager, annotator, guideline
):
    for text in ("First question?", "Second question?"):
        question = answered(project, annotator, manager, text=text)
        services.question_promote(question=question, by=manager, section="No such heading")
    body = GuidelineVersion.objects.get(number=3).body
    assert body.count("## Clarifications") == 1
    assert body.index("First question?") < body.index("Second question?")


def test_a_heading_in_the_answer_cannot_end_the_section(project, manager, annotator, guideline):
    question = ask(project, annotator, label="claim")
    services.question_answer(question=question, by=manager, answer="See:\n## Opinion\nno.")
    services.question_promote(question=question, by=manager, section="Claim")
    body = GuidelineVersion.objects.get(number=2).body
    assert services.guideline_headings(body) == ["Guide", "Claim", "Opinion"]
    assert "\\## Opinion" in body


def test_summary_truncates_a_long_question(project, manager, annotator, guideline):
    question = answered(project, annotator, manager, text="Why " * 60)
    version = services.question_promote(question=question, by=manager).promoted_to
    assert version.change_summary.startswith(f"Q&A #{question.pk}: Why Why")
    assert len(version.change_summary) < 100 and version.change_summary.endswith("…")


def test_promoting_twice_is_refused(project, manager, annotator, guideline):
    question = services.question_promote(question=answered(project, annotator, manager), by=manager)
    with pytest.raises(ValidationError):
        services.question_promote(question=question, by=manager)
    with pytest.raises(ValidationError):
        services.question_answer(question=question, by=manager, answer="Changed")
    assert GuidelineVersion.objects.filter(project=project).count() == 2


def test_an_unanswered_question_cannot_be_promoted(project, manager, annotator, guideline):
    with pytest.raises(ValidationError):
        services.question_promote(question=ask(project, annotator), by=manager)
    assert GuidelineVersion.objects.filter(project=project).count() == 1


def test_promoting_needs_a_published_guideline(project, manager, annotator):
    question = services.question_ask(project=project, by=annotator, text="Before any guideline?")
    services.question_answer(question=question, by=manager, answer="Yes.")
    with pytest.raises(ValidationError, match="first guideline"):
        services.question_promote(question=question, by=manager)
    question.refresh_from_db()
    assert question.status == Question.Status.ANSWERED and question.guideline_version is None


def test_only_managers_promote(project, personas, guideline):
    question = answered(project, personas["annotator"], personas["manager"])
    for who in ("reviewer", "annotator"):
        with pytest.raises(PermissionDenied):
            services.question_promote(question=question, by=personas[who])
    question.refresh_from_db()
    assert question.status == Question.Status.ANSWERED


# --- visibility and unseen answers ------------------------------------------------------------


def test_annotators_see_their_own_and_promoted_questions_only(project, personas, guideline):
    other = annotators_on(project, 1)[0]
    mine = ask(project, personas["annotator"], text="Mine?")
    theirs_open = ask(project, other, text="Theirs, open?")
    theirs_answered = answered(project, other, personas["manager"], text="Theirs, answered?")
    theirs_promoted = services.question_promote(
        question=answered(project, other, personas["manager"], text="Theirs, promoted?"),
        by=personas["manager"],
    )
    seen = set(selectors.my_questions(project, personas["annotator"]))
    assert seen == {mine, theirs_promoted}
    everything = {mine, theirs_open, theirs_answered, theirs_promoted}
    for name in ("reviewer", "manager"):
        assert set(selectors.my_questions(project, personas[name])) == everything
    assert not selectors.my_questions(project, personas["outsider"]).exists()


def test_unseen_answers_until_marked_seen(project, manager, annotator, guideline):
    open_one = ask(project, annotator, text="Still open?")
    first = answered(project, annotator, manager, text="First?")
    second = answered(project, annotator, manager, text="Second?")
    other = answered(project, manager, manager, text="The manager's own?")
    assert list(selectors.unseen_answers(project, annotator)) == [first, second]
    # Marking someone else's or an open question does nothing.
    assert services.question_mark_seen(questions=[first, open_one, other], by=annotator) == 1
    assert list(selectors.unseen_answers(project, annotator)) == [second]
    assert selectors.unseen_answers(project, manager).get() == other


# --- search, inbox and items ------------------------------------------------------------------


def test_search_and_filters(project, manager, annotator, reviewer, guideline):
    items = make_items(project, 2)
    quote = ask(project, annotator, text="Is a quote a claim?", label="claim", item=items[0])
    numbers = answered(project, reviewer, manager, text="Do numbers count?", label="opinion")
    plain = ask(project, annotator, text="What about lists?")

    def search(**filters):
        return list(selectors.question_search(project, manager, **filters))

    assert search(q="QUOTE") == [quote]
    assert search(q="unsourced") == [numbers]  # the answer is searched too
    assert search(status="answered") == [numbers]
    assert search(label="claim") == [quote]
    assert search(item=items[0].pk) == [quote]
    assert set(search(asker="annotator")) == {quote, plain}
    # Open first, oldest first; then the rest.
    assert search() == [quote, plain, numbers]
    assert list(selectors.inbox(project)) == [quote, plain]
    assert selectors.open_question_count(project) == 2


def test_questions_on_items(project, manager, annotator, guideline):
    items = make_items(project, 3)
    a = ask(project, annotator, item=items[0], text="First on 0?")
    b = ask(project, manager, item=items[0], text="Second on 0?")
    c = ask(project, annotator, item=items[1])
    ask(project, annotator)
    ids = [items[0].pk, items[1].pk, items[2].pk]
    assert selectors.questions_on_items(project, ids) == {items[0].pk: [a, b], items[1].pk: [c]}
    other = annotators_on(project, 1)[0]
    assert selectors.questions_on_items(project, ids, user=other) == {}
    assert selectors.questions_on_items(project, ids, user=annotator) == {
        items[0].pk: [a],
        items[1].pk: [c],
    }


# --- stale annotations ------------------------------------------------------------------------


def annotate(batch, item, user, answer, guideline):
    batch_item = BatchItem.objects.get(batch=batch, item=item)
    return Annotation.objects.create(
        batch_item=batch_item,
        batch=batch,
        item=item,
        annotator=user,
        answer=answer,
        schema_version=batch.schema_version,
        guideline_version=guideline,
    )


def promoted(project, manager, annotator, label):
    question = answered(project, annotator, manager, label=label)
    return services.question_promote(question=question, by=manager)


@pytest.mark.parametrize(
    ("task_type", "hit", "miss"),
    [("single", "claim", "opinion"), ("multi", ["opinion", "claim"], ["opinion"])],
)
def test_stale_lists_old_annotations_on_the_affected_label(
    project, manager, annotator, task_type, hit, miss
):
    schema = make_schema(project, task_type)
    v1 = guideline_publish(project=project, by=manager, body=GUIDELINE, change_summary="First")
    items = make_items(project, 3)
    batch = make_batch(project, items, schema_version=schema)
    stale = annotate(batch, items[0], annotator, hit, v1)
    annotate(batch, items[1], annotator, miss, v1)
    question = promoted(project, manager, annotator, "claim")
    annotate(batch, items[2], manager, hit, question.promoted_to)  # made after: not stale
    assert list(selectors.stale_annotations(project, question)) == [stale]
    assert list(selectors.stale_annotations(project, question.promoted_to)) == [stale]


def test_stale_binary_uses_the_proposed_label(project, manager, annotator, guideline):
    items = make_items(project, 3)
    batch = make_batch(project, items)
    BatchItem.objects.filter(item=items[0]).update(proposed_label="claim")
    BatchItem.objects.filter(item=items[1]).update(proposed_label="opinion")
    on_claim = annotate(batch, items[0], annotator, "no", guideline)
    on_opinion = annotate(batch, items[1], annotator, "yes", guideline)
    no_guideline = annotate(batch, items[2], annotator, "yes", None)
    question = promoted(project, manager, annotator, "claim")
    assert list(selectors.stale_annotations(project, question)) == [on_claim]
    # A question about no label concerns every earlier annotation.
    general = promoted(project, manager, annotator, "")
    assert set(selectors.stale_annotations(project, general)) == {
        on_claim,
        on_opinion,
        no_guideline,
    }


def test_stale_is_empty_for_an_unpromoted_question(project, manager, annotator, guideline):
    question = answered(project, annotator, manager, label="claim")
    assert not selectors.stale_annotations(project, question).exists()
