"""Agreement pilot by pilot: the chart on the agreement page (inline SVG with a data table), its
REST twin, and who may see which pilot."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotation.services import labelling
from evaluation.models import RELIABLE_ALPHA
from evaluation.selectors import agreement as selectors
from evaluation.services import agreement as services
from evaluation.views.agreement_chart import pilot_chart
from tests.evaluation.test_agreement_service import (
    agreeing,
    noisy,
    publish,
    run_pilot,
    setup_team,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_pilots(project, manager, annotator, django_capture_on_commit_callbacks):
    """A noisy pilot under guideline v1, then an agreeing one under v2: agreement rises."""
    team = setup_team(project, manager)
    everyone = [annotator, *team]
    capture = django_capture_on_commit_callbacks
    first = run_pilot(project, manager, everyone, noisy(everyone, every=2), capture=capture)
    publish(project, manager, "Clarified: opinions never need a citation.")
    second = run_pilot(project, manager, everyone, agreeing, capture=capture)
    return [first, second]


def points(html: str, series: str) -> list[tuple[float, float]]:
    found = re.findall(rf'<circle class="point {series}" cx="([\d.]+)" cy="([\d.]+)"', html)
    return [(float(x), float(y)) for x, y in found]


def test_chart_has_one_alpha_and_one_ac1_point_per_pilot(client, manager, project, two_pilots):
    client.force_login(manager)
    html = client.get(reverse("agreement", args=[project.pk])).content.decode()
    assert html.count("<svg") == 1 and 'role="img"' in html
    assert '<title id="pilot-chart-title">' in html and '<desc id="pilot-chart-desc">' in html
    alpha, ac1 = points(html, "alpha"), points(html, "ac1")
    assert len(alpha) == len(ac1) == 2
    # Left to right in the order the pilots were run; the second agrees more, so it sits
    # higher (smaller y in SVG coordinates).
    assert alpha[0][0] < alpha[1][0] and alpha[1][1] < alpha[0][1]
    # Threshold and reliable lines, and every number in the table beside the chart.
    assert "threshold 0.667" in html and f"reliable {RELIABLE_ALPHA}" in html
    first, second = two_pilots
    assert f"{first.alpha:.3f}" in html and f"{second.alpha:.3f}" in html
    assert "guideline v1" in html and "guideline v2" in html
    assert html.count('class="whisker"') == 4  # every point has its interval


def test_chart_geometry_follows_the_threshold(project, manager, two_pilots):
    history = selectors.pilot_history(project)
    chart = pilot_chart(history, 0.5)
    threshold, reliable = chart.rules
    assert threshold["y"] > reliable["y"]  # 0.5 is drawn below 0.8
    perfect = chart.alpha_points[1]
    assert perfect.value == pytest.approx(1.0) and perfect.y == chart.top
    rows = chart.rows
    assert [r["guideline"] for r in rows] == [1, 2]
    assert rows[0]["alpha_ci"][0] <= rows[0]["alpha"] <= rows[0]["alpha_ci"][1]


def test_no_pilot_no_chart(client, manager, project):
    assert pilot_chart([], 0.667) is None
    client.force_login(manager)
    html = client.get(reverse("agreement", args=[project.pk])).content.decode()
    assert "<svg" not in html and "No pilot report yet." in html


def test_blind_mode_hides_open_pilots_from_annotators_in_chart_and_api(
    client, api, manager, annotator, project, two_pilots
):
    labelling.batch_open(batch=two_pilots[1].batch, by=manager)
    client.force_login(annotator)
    html = client.get(reverse("agreement", args=[project.pk])).content.decode()
    assert len(points(html, "alpha")) == 1
    api.force_authenticate(annotator)
    url = reverse("api_pilot_history", args=[project.pk])
    assert [row["batch"] for row in api.get(url).json()] == [two_pilots[0].batch_id]
    services.quality_settings_update(project=project, by=manager, blind_mode=False)
    assert len(api.get(url).json()) == 2


def test_pilot_history_api_carries_figures_and_intervals(api, manager, project, two_pilots):
    api.force_authenticate(manager)
    rows = api.get(reverse("api_pilot_history", args=[project.pk])).json()
    assert [row["pilot"] for row in rows] == [1, 2]
    assert [row["guideline_version"] for row in rows] == [1, 2]
    first = rows[0]
    assert first["alpha"] == pytest.approx(two_pilots[0].alpha)
    assert first["alpha_level"] == "nominal"
    assert first["alpha_ci"]["low"] <= first["alpha"] <= first["alpha_ci"]["high"]
    assert first["gwet_ac1"] == pytest.approx(two_pilots[0].gwet_ac1)
    assert first["gwet_ac1_ci"]["low"] <= first["gwet_ac1"] <= first["gwet_ac1_ci"]["high"]


@pytest.mark.parametrize(
    ("role", "status"),
    [("manager", 200), ("reviewer", 200), ("annotator", 200), ("outsider", 403)],
)
def test_pilot_history_api_permissions(api, personas, project, role, status):
    api.force_authenticate(personas[role])
    assert api.get(reverse("api_pilot_history", args=[project.pk])).status_code == status


def test_pilot_history_api_needs_authentication(api, project):
    assert api.get(reverse("api_pilot_history", args=[project.pk])).status_code == 401
