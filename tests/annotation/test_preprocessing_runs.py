"""Step 3 runs over a project's items: apply, report, revert, and the step-3 gate."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from annotation.models import ImportJob, Item, PreprocessingRun, Source
from annotation.services import preprocessing as service
from dmops import services as lifecycle
from dmops.errors import DomainError
from dmops.steps import evaluate_checks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def jobs_run_on_commit(django_capture_on_commit_callbacks, monkeypatch):
    """The run is queued on commit; tests run inside a transaction, so run the queue at the end
    of each service call as a real commit would."""
    from annotation.services import preprocessing

    start = preprocessing.preprocessing_run_start

    def start_and_commit(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return start(**kwargs)

    monkeypatch.setattr(preprocessing, "preprocessing_run_start", start_and_commit)


TEXTS = [
    "Contact me at jane.doe@example.org for the full data set of this study.",
    "The bridge was completed in 1932 and carried about 40,000 vehicles a day.",
    "the bridge was completed in 1932 and carried about 40,000 vehicles a day",
    "Too short.",
    "Its designer   later moved to Vienna, where he taught engineering until 1950.",
]


@pytest.fixture
def items(project, manager):
    source = Source.objects.create(
        project=project, name="s", format="text", licence="cc-by-sa-4.0", created_by=manager
    )
    job = ImportJob.objects.create(
        project=project,
        source=source,
        file_name="f.txt",
        status="succeeded",
        finished_at=timezone.now(),
    )
    return [
        Item.objects.create(
            project=project,
            source=source,
            import_job=job,
            position=n + 1,
            text=text,
            raw_text=text,
            text_hash=hashlib.sha256(text.encode()).hexdigest(),
        )
        for n, text in enumerate(TEXTS)
    ]


CONFIG = {"dedupe": "loose", "min_words": 5, "pii_action": "mask"}


def active_texts(project):
    return list(
        Item.objects.filter(project=project, is_active=True)
        .order_by("position")
        .values_list("text", flat=True)
    )


def test_run_masks_pii_drops_short_and_duplicate_items_and_reports_counts(project, manager, items):
    run = service.preprocessing_run_start(project=project, by=manager, config=CONFIG)
    run.refresh_from_db()
    assert run.status == "applied"
    assert active_texts(project) == [
        "Contact me at [EMAIL] for the full data set of this study.",
        "The bridge was completed in 1932 and carried about 40,000 vehicles a day.",
        "Its designer later moved to Vienna, where he taught engineering until 1950.",
    ]
    dropped = dict(
        Item.objects.filter(project=project, is_active=False).values_list("position", "dropped_by")
    )
    assert dropped == {3: "duplicate", 4: "length"}
    assert run.report["total"] == 5 and run.report["kept"] == 3
    assert run.report["dropped"] == {"duplicate": 1, "length": 1}
    assert run.report["pii"]["email"] == {"matches": 1, "items": 1}
    assert Item.objects.get(position=1).raw_text == TEXTS[0]  # raw text is kept


def test_runs_do_not_stack_each_starts_from_raw_text(project, manager, items):
    service.preprocessing_run_start(project=project, by=manager, config=CONFIG)
    service.preprocessing_run_start(project=project, by=manager, config={"dedupe": None})
    assert len(active_texts(project)) == 5
    assert "jane.doe@example.org" not in active_texts(project)[0]  # masking is on by default


def test_revert_restores_raw_text_and_refuses_after_sign_off(project, manager, items):
    service.preprocessing_run_start(project=project, by=manager, config=CONFIG)
    service.preprocessing_revert(project=project, by=manager)
    assert active_texts(project) == TEXTS
    assert PreprocessingRun.objects.get().status == "reverted"
    with pytest.raises(DomainError, match="no applied pre-processing run"):
        service.preprocessing_revert(project=project, by=manager)


def test_preview_reports_without_writing(project, manager, items):
    report = service.preprocessing_preview(project=project, by=manager, config=CONFIG)
    assert report["kept"] == 3 and report["pii_examples"]["email"][0]["after"].count("[EMAIL]")
    assert active_texts(project) == TEXTS and not PreprocessingRun.objects.exists()


def test_bad_config_is_refused_with_the_reason(project, manager, items):
    with pytest.raises(DomainError, match="unknown preprocessing option"):
        service.preprocessing_run_start(project=project, by=manager, config={"stem": True})
    with pytest.raises(DomainError, match="min_words"):
        service.preprocessing_run_start(
            project=project, by=manager, config={"min_words": 9, "max_words": 3}
        )
    assert not PreprocessingRun.objects.exists()


@pytest.mark.parametrize("persona", ["reviewer", "annotator", "outsider"])
def test_only_managers_run_preprocessing(project, personas, persona, items):
    with pytest.raises(PermissionDenied):
        service.preprocessing_run_start(project=project, by=personas[persona], config=CONFIG)


def test_running_the_job_twice_applies_once(project, manager, items):
    run = service.preprocessing_run_start(project=project, by=manager, config=CONFIG)
    assert service.preprocessing_run_execute(run_id=run.pk) is None


def test_step_3_gate_needs_a_run_after_the_last_import(project, manager, items):
    def gate_passes():
        return all(o.passed for o in evaluate_checks(project, 3))

    assert not gate_passes()
    service.preprocessing_run_start(project=project, by=manager, config=CONFIG)
    assert gate_passes()
    ImportJob.objects.create(
        project=project,
        source=items[0].source,
        file_name="more.txt",
        status="succeeded",
        finished_at=timezone.now(),
    )
    assert not gate_passes()


def test_signed_off_step_3_freezes_preprocessing(project, manager, items):
    from dmops.models import StepState

    StepState.objects.filter(project=project, key=3).update(status="done")
    with pytest.raises(DomainError, match="Step 3 is signed off"):
        service.preprocessing_run_start(project=project, by=manager, config=CONFIG)
    lifecycle.step_reopen(project=project, key=3, by=manager, reason="new rules")
    service.preprocessing_run_start(project=project, by=manager, config=CONFIG)


# --- pages and endpoints ---------------------------------------------------------------------


def test_page_permissions(client, project, personas, items):
    url = reverse("preprocessing", args=[project.pk])
    for persona, expected in [("manager", 200), ("annotator", 200), ("outsider", 403)]:
        client.force_login(personas[persona])
        assert client.get(url).status_code == expected, persona
    client.force_login(personas["annotator"])
    post = client.post(reverse("preprocessing_action", args=[project.pk]), {"action": "apply"})
    assert post.status_code == 403


def test_htmx_preview_shows_pii_examples_to_manager(client, project, manager, items):
    client.force_login(manager)
    response = client.post(
        reverse("preprocessing_action", args=[project.pk]),
        {
            "action": "preview",
            "normalise": "on",
            "dedupe": "loose",
            "min_words": 5,
            "pii_kinds": ["email", "phone", "url", "ip"],
            "pii_action": "mask",
        },
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert 'id="preview"' in html and "<html" not in html
    assert "[EMAIL]" in html and "3</strong> kept" in html


def test_api_run_and_permissions(api, project, personas, items):
    url = f"/api/projects/{project.pk}/preprocessing-runs/"
    api.force_authenticate(personas["outsider"])
    assert api.get(url).status_code == 403
    api.force_authenticate(personas["annotator"])
    assert api.post(url, {"config": CONFIG}, format="json").status_code == 403
    api.force_authenticate(personas["manager"])
    created = api.post(url, {"config": CONFIG}, format="json")
    assert created.status_code == 202 and created.json()["status"] == "applied"
    bad = api.post(url, {"config": {"dedupe": "fuzzy"}}, format="json")
    assert bad.status_code == 400 and "dedupe" in str(bad.json())
    api.force_authenticate(personas["annotator"])
    detail = api.get(f"/api/preprocessing-runs/{created.json()['id']}/").json()
    assert "pii_examples" not in detail["report"] and detail["report"]["kept"] == 3
    api.force_authenticate(personas["outsider"])
    assert api.get(f"/api/preprocessing-runs/{created.json()['id']}/").status_code == 403
