"""The report's disagreements show the questions asked on each item (as the viewer may see
them), with links to ask, to answer in the question log and to edit the guideline; and the
roster flag for annotators below the gold-accuracy minimum."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import Item, Question
from evaluation.selectors.flags import gold_flagged_annotators
from evaluation.services import agreement as services
from evaluation.services import quality as quality_services
from tests.evaluation.test_agreement_service import (
    label_all,
    main_batch,
    noisy,
    run_pilot,
    setup_team,
    truth,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(project, manager, annotator, django_capture_on_commit_callbacks):
    team = setup_team(project, manager)
    everyone = [annotator, *team]
    report = run_pilot(
        project, manager, everyone, noisy(everyone), capture=django_capture_on_commit_callbacks
    )
    listed = report.results["disagreement"]["items"]
    first, second = listed[0]["item_id"], listed[1]["item_id"]
    mine = Question.objects.create(
        project=project, asked_by=annotator, item_id=first, text="Is a rhetorical claim a claim?"
    )
    theirs = Question.objects.create(
        project=project,
        asked_by=team[0],
        item_id=second,
        text="Does a quoted opinion count?",
        status=Question.Status.ANSWERED,
        answer="Only when the quote is unsourced.",
    )
    return {"report": report, "mine": mine, "theirs": theirs, "items": (first, second)}


def report_html(client, user, project, report) -> str:
    client.force_login(user)
    return client.get(reverse("agreement_report", args=[project.pk, report.pk])).content.decode()


def test_manager_sees_every_question_and_the_links(client, manager, project, disputed):
    html = report_html(client, manager, project, disputed["report"])
    first, second = disputed["items"]
    assert "Is a rhetorical claim a claim?" in html
    assert "Does a quoted opinion count?" in html and "Only when the quote is unsourced." in html
    log = reverse("questions", args=[project.pk])
    assert f'{log}?item={second}"' in html and "Answer in the question log" in html
    ask = reverse("question_ask", args=[project.pk])
    assert f"{ask}?item={first}&amp;next=" in html
    assert reverse("guideline_edit", args=[project.pk]) in html


def test_annotator_sees_only_own_questions_once_the_pilot_is_closed(
    client, annotator, project, disputed
):
    html = report_html(client, annotator, project, disputed["report"])
    assert "Is a rhetorical claim a claim?" in html
    assert "Does a quoted opinion count?" not in html
    assert "Ask about this item" in html
    assert reverse("guideline_edit", args=[project.pk]) not in html


def test_question_queries_do_not_grow_with_the_questions(client, manager, project, disputed):
    client.force_login(manager)
    url = reverse("agreement_report", args=[project.pk, disputed["report"].pk])
    client.get(url)  # warm the session

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    before = queries()
    listed = [d["item_id"] for d in disputed["report"].results["disagreement"]["items"]]
    for item_id in listed:
        Question.objects.create(project=project, asked_by=manager, item_id=item_id, text="Why?")
    assert queries() == before


def test_gold_flagged_annotators_for_the_roster(client, project, manager, annotator):
    team = setup_team(project, manager)

    items = list(Item.objects.filter(project=project).order_by("position")[:6])
    batch = main_batch(project, manager, items)
    label_all(project, team, noisy(team, every=2))
    assert gold_flagged_annotators(project) == {}  # no gold yet: no evidence
    for bi in batch.batch_items.select_related("item"):
        quality_services.gold_answer_set(batch_item=bi, by=manager, answer=truth(bi.item))
    flagged = gold_flagged_annotators(project)
    assert list(flagged) == [team[-1].pk]
    assert "50%" in flagged[team[-1].pk] and "70%" in flagged[team[-1].pk]
    # The team roster shows the flag to the manager (evaluation registers it from ready()).
    client.force_login(manager)
    roster_page = client.get(reverse("team", args=[project.pk])).content.decode()
    assert roster_page.count('data-testid="roster-flag"') == 1
    assert flagged[team[-1].pk] in roster_page
    services.quality_settings_update(project=project, by=manager, gold_accuracy_min=0.4)
    assert gold_flagged_annotators(project) == {}
