"""Dashboard badges: the registry in dmops/dashboard.py and the "open questions" badge the
annotation app registers into it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.selectors.questions import open_questions_badge
from annotation.services.questions import question_ask
from dmops import dashboard
from dmops.dashboard import Badge, badge_sources, badges_for, register_dashboard_badge
from dmops.selectors import dashboard as dashboard_summaries
from tests.dmops.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty_registry(monkeypatch):
    monkeypatch.setattr(dashboard, "_SOURCES", {})


def test_registry_merges_sources_per_project_in_order(empty_registry, project, manager):
    calls = []

    @register_dashboard_badge
    def reviews(projects, user):
        calls.append(([p.pk for p in projects], user))
        return {project.pk: Badge("to review", 3, "/r/")}

    def flags(projects, user):
        return {project.pk: Badge("flagged", 1, "/f/"), 999: Badge("elsewhere", 2, "/e/")}

    register_dashboard_badge(flags)
    register_dashboard_badge(flags)  # ready() can run twice: still one source
    assert len(badge_sources()) == 2
    badges = badges_for([project], manager)
    assert [b.label for b in badges[project.pk]] == ["to review", "flagged"]
    assert calls == [([project.pk], manager)]


def test_no_projects_asks_no_source(empty_registry, manager):
    register_dashboard_badge(lambda projects, user: pytest.fail("should not be called"))
    assert badges_for([], manager) == {}


def test_the_annotation_app_registers_open_questions():
    assert open_questions_badge in badge_sources()


def test_open_questions_badge_counts_for_managers_only(project, personas):
    other = ProjectFactory(name="Other", manager=personas["manager"])
    quiet = ProjectFactory(name="Quiet", manager=personas["manager"])
    for text in ("One?", "Two?"):
        question_ask(project=project, by=personas["annotator"], text=text)
    question_ask(project=other, by=personas["manager"], text="Three?")
    badges = open_questions_badge([project, other, quiet], personas["manager"])
    assert badges == {
        project.pk: Badge(
            "open questions", 2, reverse("questions", args=[project.pk]) + "?status=open"
        ),
        other.pk: Badge("open question", 1, reverse("questions", args=[other.pk]) + "?status=open"),
    }
    for who in ("reviewer", "annotator", "outsider"):
        assert open_questions_badge([project], personas[who]) == {}


def test_open_questions_badge_is_one_query_for_all_projects(
    project, manager, django_assert_num_queries
):
    projects = [project] + [ProjectFactory(name=f"P{i}", manager=manager) for i in range(4)]
    for p in projects:
        question_ask(project=p, by=manager, text="Anything?")
    with django_assert_num_queries(1):
        badges = open_questions_badge(projects, manager)
    assert {pk: b.count for pk, b in badges.items()} == {p.pk: 1 for p in projects}


def test_dashboard_shows_the_badge_to_the_manager(client, project, manager, annotator):
    question_ask(project=project, by=annotator, text="One?")
    summary = next(s for s in dashboard_summaries(manager) if s.project == project)
    assert [(b.label, b.count) for b in summary.badges] == [("open question", 1)]
    client.force_login(manager)
    page = client.get(reverse("dashboard")).text
    assert "1 open question" in page
    assert reverse("questions", args=[project.pk]) + "?status=open" in page
    client.force_login(annotator)
    assert "open question" not in client.get(reverse("dashboard")).text
