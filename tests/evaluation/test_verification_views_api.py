"""Step 11 pages and REST API: who may do what, the run page with its polling and figures,
the report JSON, sending suspicious items, and predictions validation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import BatchItem, Item
from dmops import services as dmops_services
from dmops.models import StepEvent
from evaluation.models import ExternalPrediction, VerificationRun
from tests.conftest import client_for
from tests.evaluation.test_verification_service import FAST, labelled_project, run_now
from tests.evaluation.verification_doubles import ENCODER_PATH, HashingEncoder


@pytest.fixture(autouse=True)
def fake_encoder(settings):
    settings.DMOPS_VERIFICATION_ENCODER = ENCODER_PATH
    HashingEncoder.calls = 0


@pytest.fixture
def done_run(project, manager, django_capture_on_commit_callbacks) -> VerificationRun:
    labelled_project(project, per_class=25, planted=5)
    run = run_now(project, manager, django_capture_on_commit_callbacks)
    assert run.status == "done", run.error
    return run


def pages(project, run) -> list[tuple[str, str, dict]]:
    """(method, url, data) for every page and endpoint of step 11."""
    p, r = project.pk, run.pk
    compare = reverse("verification_compare", args=[p]) + f"?a={r}&b={r}"
    return [
        ("get", reverse("verification", args=[p]), {}),
        ("get", reverse("verification_run", args=[p, r]), {}),
        ("get", compare, {}),
        ("post", reverse("verification_start", args=[p]), {"n_folds": 3, "top_k": 5}),
        ("post", reverse("verification_cancel", args=[p, r]), {}),
        ("post", reverse("verification_send", args=[p, r]), {"top_k": 2}),
        ("post", reverse("verification_findings", args=[p, r]), {"note": "ok"}),
        ("post", reverse("verification_reopen", args=[p, r]), {}),
        ("post", reverse("verification_preannotate", args=[p, r]), {}),
        ("post", reverse("verification_fold", args=[p]), {}),
        ("post", reverse("verification_order", args=[p]), {"batch": 0}),
        ("post", reverse("verification_predictions", args=[p]), {"model": "m"}),
        ("get", reverse("api_verification_runs", args=[p]), {}),
        ("post", reverse("api_verification_runs", args=[p]), {}),
        ("get", reverse("api_verification_run", args=[p, r]), {}),
        ("post", reverse("api_verification_run_cancel", args=[p, r]), {}),
        ("get", reverse("api_verification_report", args=[p, r]), {}),
        ("get", reverse("api_verification_suspicious", args=[p, r]), {}),
        ("post", reverse("api_verification_send", args=[p, r]), {"top_k": 1}),
        ("post", reverse("api_predictions", args=[p]), {"model": "m", "predictions": []}),
    ]


def call(client, method: str, url: str, data: dict):
    if "/api/" in url:
        return getattr(client, method)(url, data, content_type="application/json")
    return getattr(client, method)(url, data)


@pytest.mark.parametrize("persona", ["outsider", "annotator"])
def test_outsiders_and_annotators_get_403_everywhere(client, personas, persona, done_run):
    client_for(client, personas[persona])
    for method, url, data in pages(done_run.project, done_run):
        assert call(client, method, url, data).status_code == 403, (method, url)
    done_run.refresh_from_db()
    assert done_run.findings_note == ""


def test_reviewers_read_but_cannot_act(client, reviewer, done_run):
    client_for(client, reviewer)
    for method, url, data in pages(done_run.project, done_run):
        expected = 200 if method == "get" else 403
        assert call(client, method, url, data).status_code == expected, (method, url)
    assert VerificationRun.objects.count() == 1


def test_anonymous_api_call_is_401(api, done_run):
    url = reverse("api_verification_report", args=[done_run.project_id, done_run.pk])
    assert api.get(url).status_code == 401


def test_manager_starts_a_run_from_the_page_and_reads_its_report(
    client, manager, project, django_capture_on_commit_callbacks
):
    labelled_project(project)
    client_for(client, manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("verification_start", args=[project.pk]), {"n_folds": 3, "top_k": 10}
        )
    run = VerificationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("verification_run", args=[project.pk, run.pk])
    page = client.get(response["Location"])
    body = page.content.decode()
    run.refresh_from_db()
    assert page.status_code == 200 and run.status == "done"
    assert "Learnability per label" in body
    assert body.count("<svg") == 2  # both figures inline, unescaped
    assert "Reopen step 5" in body and reverse("guideline_edit", args=[project.pk]) in body


def test_item_text_in_the_report_is_escaped(client, manager, done_run):
    row = done_run.report["suspicious"][0]
    done_run.report["suspicious"][0]["text"] = "<script>alert(1)</script>"
    VerificationRun.objects.filter(pk=done_run.pk).update(report=done_run.report)
    client_for(client, manager)
    body = client.get(reverse("verification_run", args=[done_run.project_id, done_run.pk]))
    assert "<script>alert(1)</script>" not in body.content.decode()
    assert "&lt;script&gt;" in body.content.decode()
    assert row["item_id"]


def test_status_fragment_polls_every_second_until_finished(client, manager, project):
    labelled_project(project, per_class=4)
    run = VerificationRun.objects.create(
        project=project, created_by=manager, progress=40, status="running", stage="embedding"
    )
    client_for(client, manager)
    url = reverse("verification_run", args=[project.pk, run.pk]) + "?fragment=status"
    fragment = client.get(url, headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert 'hx-trigger="every 1s"' in html and "40 %" in html and "<html" not in html
    assert "Cancel the run" in html
    VerificationRun.objects.filter(pk=run.pk).update(status="done")
    finished = client.get(url, headers={"HX-Request": "true"})
    assert finished.status_code == 204 and finished["HX-Refresh"] == "true"


def test_manager_cancels_a_waiting_run_from_the_page(client, manager, project):
    run = VerificationRun.objects.create(project=project, created_by=manager)
    client_for(client, manager)
    client.post(reverse("verification_cancel", args=[project.pk, run.pk]))
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_manager_sends_ticked_items_signs_off_and_reopens_step_5(client, manager, done_run):
    project = done_run.project
    client_for(client, manager)
    ids = [row["item_id"] for row in done_run.report["suspicious"][:2]]
    client.post(reverse("verification_send", args=[project.pk, done_run.pk]), {"item": ids})
    assert set(
        BatchItem.objects.filter(batch__kind="verification").values_list("item_id", flat=True)
    ) == set(ids)
    client.post(
        reverse("verification_findings", args=[project.pk, done_run.pk]), {"note": "Fixed."}
    )
    done_run.refresh_from_db()
    assert done_run.findings_note == "Fixed."
    dmops_services.step_skip(project=project, key=5, by=manager, reason="later")
    client.post(reverse("verification_reopen", args=[project.pk, done_run.pk]), {"note": "x"})
    event = StepEvent.objects.filter(project=project, kind="reopened").get()
    assert f"run #{done_run.pk}" in event.note


def test_compare_page_shows_both_runs(client, manager, reviewer, done_run):
    other = VerificationRun.objects.create(
        project=done_run.project,
        status="done",
        macro_f1=0.5,
        report={"learnability": {"macro_f1": 0.5, "per_label": [{"label": "claim", "f1": 0.5}]}},
    )
    client_for(client, reviewer)
    url = reverse("verification_compare", args=[done_run.project_id])
    body = client.get(url, {"a": other.pk, "b": done_run.pk}).content.decode()
    assert f"Run #{other.pk}" in body and "claim" in body


def test_api_start_status_report_suspicious_send_and_cancel(
    api, manager, project, django_capture_on_commit_callbacks
):
    labelled_project(project, per_class=25, planted=5)
    api.force_authenticate(manager)
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(reverse("api_verification_runs", args=[project.pk]), FAST, format="json")
    assert started.status_code == 202
    run_id = started.json()["id"]
    status = api.get(reverse("api_verification_run", args=[project.pk, run_id])).json()
    assert status["status"] == "done" and status["progress"] == 100
    report = api.get(reverse("api_verification_report", args=[project.pk, run_id])).json()
    assert report["learnability"]["macro_f1"] > 0.8 and "data" not in report
    assert report["verdicts"]["sent"] == 0
    suspicious = api.get(reverse("api_verification_suspicious", args=[project.pk, run_id])).json()
    assert len(suspicious) >= 5 and suspicious[0]["rank"] == 1
    sent = api.post(
        reverse("api_verification_send", args=[project.pk, run_id]), {"top_k": 3}, format="json"
    )
    assert sent.status_code == 201 and sent.json()["size"] == 3
    cancel = api.post(reverse("api_verification_run_cancel", args=[project.pk, run_id]))
    assert cancel.status_code == 400  # already done


def test_predictions_api_validates_items_and_labels(api, manager, project):
    labelled_project(project, per_class=4)
    item = Item.objects.filter(project=project).first()
    api.force_authenticate(manager)
    url = reverse("api_predictions", args=[project.pk])
    bad_item = {"model": "m", "predictions": [{"item_id": 10**9, "label": "claim", "score": 0.9}]}
    response = api.post(url, bad_item, format="json")
    assert response.status_code == 400 and "item_id" in response.json()
    bad_label = {"model": "m", "predictions": [{"item_id": item.pk, "label": "zzz", "score": 0.9}]}
    response = api.post(url, bad_label, format="json")
    assert response.status_code == 400 and "label" in response.json()
    bad_score = {"model": "m", "predictions": [{"item_id": item.pk, "label": "claim", "score": 2}]}
    assert api.post(url, bad_score, format="json").status_code == 400
    good = {"model": "m", "predictions": [{"item_id": item.pk, "label": "claim", "score": 0.9}]}
    response = api.post(url, good, format="json")
    assert response.status_code == 201 and response.json() == {"stored": 1}
    assert ExternalPrediction.objects.get().label == "claim"


def test_order_and_fold_actions_from_the_page(client, manager, done_run):
    from annotation.services import labelling

    project = done_run.project
    batch = labelling.batch_create(
        project=project, by=manager, name="Main", items=Item.objects.filter(project=project)[:5]
    )
    client_for(client, manager)
    client.post(reverse("verification_order", args=[project.pk]), {"batch": batch.pk})
    priorities = list(BatchItem.objects.filter(batch=batch).values_list("priority", flat=True))
    assert any(p > 0 for p in priorities)
    response = client.post(reverse("verification_fold", args=[project.pk]), follow=True)
    assert "nothing new" in response.content.decode()
