"""Pages and REST endpoints of steps 9–10: the permissions matrix (outsiders get 403 on every
one), blind mode, the report's JSON and the htmx polling fragment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Batch, BatchItem, Item, Review
from annotation.services import labelling
from evaluation.models import AgreementReport
from evaluation.services import agreement as services
from tests.evaluation.test_agreement_service import (
    agreeing,
    noisy,
    run_pilot,
    setup_team,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(project, manager):
    return setup_team(project, manager)


ROLES = ("manager", "reviewer", "annotator", "outsider")


@pytest.fixture
def piloted(team, project, manager, annotator, django_capture_on_commit_callbacks):
    """A closed, reported pilot, aggregated labels and one pending review."""
    everyone = [annotator, *team]
    report = run_pilot(
        project, manager, everyone, noisy(everyone), capture=django_capture_on_commit_callbacks
    )
    from evaluation.services import quality

    quality.labels_aggregate(project=project, by=manager, method="majority")
    review = Review.objects.create(
        item=Item.objects.filter(project=project).first(), reason="model"
    )
    return {"report": report, "review": review, "batch": report.batch}


def pages(project, piloted) -> dict[str, tuple[str, dict]]:
    p = project.pk
    return {
        "agreement": (reverse("agreement", args=[p]), {}),
        "report": (reverse("agreement_report", args=[p, piloted["report"].pk]), {}),
        "quality": (reverse("quality", args=[p]), {}),
        "review": (reverse("review", args=[p]), {}),
        "review_item": (reverse("review_item", args=[p, piloted["review"].pk]), {}),
    }


# Who may GET each page: everyone else on the project gets 403, like the outsider.
PAGE_ACCESS = {
    "agreement": {"manager", "reviewer", "annotator"},
    "report": {"manager", "reviewer", "annotator"},  # the pilot is closed
    "quality": {"manager", "reviewer"},
    "review": {"manager", "reviewer"},
    "review_item": {"manager", "reviewer"},
}


@pytest.mark.parametrize("role", ROLES)
def test_page_permissions(client, personas, project, piloted, role):
    client.force_login(personas[role])
    for name, (url, _) in pages(project, piloted).items():
        expected = 200 if role in PAGE_ACCESS[name] else 403
        assert client.get(url).status_code == expected, (name, role)


def posts(project, piloted) -> dict[str, tuple[str, dict]]:
    p = project.pk
    batch_item = BatchItem.objects.filter(batch=piloted["batch"]).first()
    user = piloted["report"].results["annotators"][0]["id"]
    return {
        "pilot_create": (reverse("pilot_create", args=[p]), {"size": 3}),
        "report_request": (
            reverse("agreement_report_request", args=[p, piloted["batch"].pk]),
            {},
        ),
        "settings": (
            reverse("quality_settings", args=[p]),
            {
                "alpha_threshold": 0.7,
                "gold_accuracy_min": 0.7,
                "low_confidence_threshold": 0.7,
                "spot_check_percent": 5,
                "acceptance_threshold": 0.9,
                "blind_mode": "on",
            },
        ),
        "open_main": (reverse("main_batches_open", args=[p]), {}),
        "aggregate": (reverse("labels_aggregate", args=[p]), {"method": "majority"}),
        "gold": (
            reverse("gold_answer_add", args=[p]),
            {"batch_item": batch_item.pk, "answer": "yes"},
        ),
        "pause": (reverse("quality_annotator_pause", args=[p, user]), {"paused": "1"}),
        "fill": (reverse("review_fill", args=[p]), {}),
    }


POST_ACCESS = {
    name: {"manager"}
    for name in (
        "pilot_create",
        "report_request",
        "settings",
        "open_main",
        "aggregate",
        "gold",
        "pause",
    )
}
POST_ACCESS["fill"] = {"manager", "reviewer"}


@pytest.mark.parametrize("role", ROLES)
def test_action_permissions(client, personas, project, piloted, role):
    client.force_login(personas[role])
    for name, (url, data) in posts(project, piloted).items():
        status = client.post(url, data).status_code
        if role in POST_ACCESS[name]:
            assert status == 302, (name, role)
        else:
            assert status == 403, (name, role)


def api_gets(project, piloted) -> dict[str, str]:
    p = project.pk
    return {
        "reports": reverse("api_agreement_reports", args=[p]),
        "report": reverse("api_agreement_report", args=[p, piloted["report"].pk]),
        "settings": reverse("api_quality_settings", args=[p]),
        "labels": reverse("api_aggregated_labels", args=[p]),
        "stats": reverse("api_annotator_stats", args=[p]),
        "aggregations": reverse("api_aggregations", args=[p]),
        "gold": reverse("api_gold_answers", args=[p]),
        "reviews": reverse("api_reviews", args=[p]),
    }


API_GET_ACCESS = {
    "reports": {"manager", "reviewer", "annotator"},
    "report": {"manager", "reviewer", "annotator"},
    "settings": {"manager", "reviewer", "annotator"},
    "labels": {"manager", "reviewer"},
    "stats": {"manager", "reviewer"},
    "aggregations": {"manager", "reviewer"},
    "gold": {"manager", "reviewer"},
    "reviews": {"manager", "reviewer"},
}


@pytest.mark.parametrize("role", ROLES)
def test_api_read_permissions(api, personas, project, piloted, role):
    api.force_authenticate(personas[role])
    for name, url in api_gets(project, piloted).items():
        expected = 200 if role in API_GET_ACCESS[name] else 403
        assert api.get(url).status_code == expected, (name, role)


@pytest.mark.parametrize("role", ("reviewer", "annotator", "outsider"))
def test_api_writes_are_refused_to_non_managers(api, personas, project, piloted, role):
    api.force_authenticate(personas[role])
    p = project.pk
    refused = [
        (reverse("api_agreement_reports", args=[p]), {"batch": piloted["batch"].pk}),
        (reverse("api_pilots", args=[p]), {"size": 3}),
        (reverse("api_main_batches_open", args=[p]), {}),
        (reverse("api_aggregations", args=[p]), {"method": "majority"}),
    ]
    for url, data in refused:
        assert api.post(url, data, format="json").status_code == 403, url
    settings_url = reverse("api_quality_settings", args=[p])
    assert api.patch(settings_url, {"alpha_threshold": 0.1}, format="json").status_code == 403
    fill = api.post(reverse("api_review_fill", args=[p]))
    assert fill.status_code == (200 if role == "reviewer" else 403)


def test_report_json_carries_every_figure_and_interval(api, manager, project, piloted):
    api.force_authenticate(manager)
    url = reverse("api_agreement_report", args=[project.pk, piloted["report"].pk])
    body = api.get(url).json()
    assert body["status"] == "done" and body["batch_kind"] == "pilot"
    assert body["guideline_version"] == 1
    results = body["results"]
    for name in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha"):
        assert results[name]["value"] is not None
        assert results[name]["ci"]["low"] <= results[name]["value"] <= results[name]["ci"]["high"]
    assert len(results["cohen_kappa"]["pairwise"]) == len(results["annotators"]) == 4
    assert results["disagreement"]["items"][0]["answers"]
    assert body["alpha"] == pytest.approx(results["krippendorff_alpha"]["value"])


def test_blind_mode_hides_reports_of_open_batches_from_annotators(
    client, api, manager, annotator, project, piloted
):
    batch, report = piloted["batch"], piloted["report"]
    labelling.batch_open(batch=batch, by=manager)
    page = reverse("agreement_report", args=[project.pk, report.pk])
    client.force_login(annotator)
    assert client.get(page).status_code == 403
    api.force_authenticate(annotator)
    assert api.get(reverse("api_agreement_reports", args=[project.pk])).json() == []
    assert (
        b"once their batch is closed" in client.get(reverse("agreement", args=[project.pk])).content
    )
    services.quality_settings_update(project=project, by=manager, blind_mode=False)
    assert client.get(page).status_code == 200
    labelling.batch_close(batch=batch, by=manager)
    services.quality_settings_update(project=project, by=manager, blind_mode=True)
    assert client.get(page).status_code == 200


def test_report_page_shows_heatmap_disagreements_and_guideline_link(
    client, manager, project, piloted
):
    client.force_login(manager)
    html = client.get(reverse("agreement_report", args=[project.pk, piloted["report"].pk])).content
    assert b"Cohen's \xce\xba per pair" in html and b"hsl(" in html
    assert reverse("guideline_edit", args=[project.pk]).encode() in html
    assert b"95 % CI" in html
    agreement = client.get(reverse("agreement", args=[project.pk])).content
    assert piloted["batch"].name.encode() in agreement and b"Open main batches" in agreement


def test_pending_report_polls_with_an_htmx_fragment(client, manager, project, team):
    batch = Batch.objects.create(project=project, name="b", overlap=2)
    with_capture = services.agreement_report_request(batch=batch, by=manager)
    client.force_login(manager)
    url = reverse("agreement_report", args=[project.pk, with_capture.pk])
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert b'hx-trigger="every 2s"' in fragment.content and b"<html" not in fragment.content
    assert AgreementReport.objects.get().status == "pending"


def test_review_decision_through_the_page_and_the_api(client, api, reviewer, project, piloted):
    review = piloted["review"]
    client.force_login(reviewer)
    url = reverse("review_item", args=[project.pk, review.pk])
    bad = client.post(url, {"decision": "send_back", "note": ""})
    assert bad.status_code == 400
    assert client.post(url, {"decision": "correct", "label": "unsure"}).status_code == 302
    review.refresh_from_db()
    assert (review.decision, review.label) == ("correct", "unsure")
    other = Review.objects.create(item=Item.objects.filter(project=project).last(), reason="model")
    api.force_authenticate(reviewer)
    answer = api.post(
        reverse("api_review_decision", args=[project.pk, other.pk]),
        {"decision": "accept"},
        format="json",
    )
    assert answer.status_code == 200 and answer.json()["decision"] == "accept"
    again = api.post(
        reverse("api_review_decision", args=[project.pk, other.pk]),
        {"decision": "accept"},
        format="json",
    )
    assert again.status_code == 400


def test_manager_api_flow_pilot_report_and_open_main(
    api, manager, annotator, project, team, django_capture_on_commit_callbacks
):
    api.force_authenticate(manager)
    p = project.pk
    main = labelling.batch_create(
        project=project, by=manager, name="main", items=Item.objects.filter(project=project)[:3]
    )
    refused = api.post(reverse("api_main_batches_open", args=[p]))
    assert refused.status_code == 400
    created = api.post(reverse("api_pilots", args=[p]), {"size": 6}, format="json")
    assert created.status_code == 201 and created.json()["overlap"] == 4
    from tests.evaluation.test_agreement_service import label_all

    label_all(project, [annotator, *team], agreeing)
    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post(
            reverse("api_agreement_reports", args=[p]),
            {"batch": created.json()["id"]},
            format="json",
        )
    assert queued.status_code == 202
    opened = api.post(reverse("api_main_batches_open", args=[p]))
    assert opened.status_code == 200 and opened.json() == {"opened": [main.pk]}
    patched = api.patch(
        reverse("api_quality_settings", args=[p]), {"alpha_threshold": 0.9}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["alpha_threshold"] == 0.9


def test_pages_render_before_any_pilot(client, manager, project):
    client.force_login(manager)
    for name in ("agreement", "quality", "review"):
        response = client.get(reverse(name, args=[project.pk]))
        assert response.status_code == 200, name
    assert b"No pilot yet" in client.get(reverse("agreement", args=[project.pk])).content


def test_aggregation_runs_in_the_background_from_page_and_api(
    client, api, manager, project, piloted, django_capture_on_commit_callbacks
):
    from evaluation.models import AggregationRun

    before = AggregationRun.objects.count()
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("labels_aggregate", args=[project.pk]), {"method": "majority"})
    assert page.status_code == 302
    api.force_authenticate(manager)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(
            reverse("api_aggregations", args=[project.pk]),
            {"method": "dawid_skene"},
            format="json",
        )
    assert answer.status_code == 202
    runs = AggregationRun.objects.order_by("pk")[before:]
    assert [r.method for r in runs] == ["majority", "dawid_skene"]
    listed = api.get(reverse("api_aggregations", args=[project.pk])).json()
    assert listed[0]["method"] == "dawid_skene"
