"""The step 4 and 5 pages: who may read and write, htmx fragments, and the flows end to end."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import GuidelineVersion, Label, SchemaVersion
from annotation.services import guideline as guideline_svc
from annotation.services import schema as schema_svc
from annotation.services import schema_presets as presets

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def world(project, manager):
    """A project with a final v1, a draft v2 copied from it, and two guideline versions."""
    v1 = schema_svc.schema_version_create(
        project=project,
        by=manager,
        task_type="single",
        labels=[
            {"key": "needs-citation", "name": "Needs citation", "hotkey": "c"},
            {"key": "fine", "name": "Fine as it is"},
        ],
    )
    schema_svc.schema_version_finalise(version=v1, by=manager)
    v2 = schema_svc.schema_version_new_from(version=v1, by=manager)
    guideline_svc.guideline_publish(
        project=project, by=manager, body="# Guide\n\n## Needs citation\n", change_summary="One"
    )
    guideline_svc.guideline_publish(
        project=project,
        by=manager,
        body="# Guide\n\n## Needs citation\n\n## Fine as it is\n",
        change_summary="Two",
    )
    label = v2.labels.get(key="fine")
    return {"project": project, "v1": v1, "v2": v2, "label": label}


def read_pages(w):
    p = w["project"].pk
    return [
        reverse("schema", args=[p]),
        reverse("schema_version", args=[p, 1]),
        reverse("guideline", args=[p]),
        reverse("guideline_version", args=[p, 1]),
        reverse("guideline_diff", args=[p]) + "?a=1&b=2",
    ]


def write_requests(w):
    p, n, label = w["project"].pk, w["v2"].number, w["label"].pk
    label_data = {"key": "x", "name": "X"}
    return [
        ("get", reverse("guideline_edit", args=[p]), {}),
        ("get", reverse("schema_label", args=[p, n, label]), {}),
        ("post", reverse("schema_create", args=[p]), {"task_type": "multi"}),
        ("post", reverse("schema_wikisqe", args=[p]), {"top_n": 5, "binary": "on"}),
        ("post", reverse("schema_settings", args=[p, n]), {"task_type": "multi"}),
        ("post", reverse("schema_new_version", args=[p, n]), {}),
        ("post", reverse("schema_label_add", args=[p, n]), label_data),
        ("post", reverse("schema_label", args=[p, n, label]), {"key": "fine", "name": "Fine"}),
        ("post", reverse("schema_label_delete", args=[p, n, label]), {}),
        ("post", reverse("schema_finalise", args=[p, n]), {}),
        ("post", reverse("guideline_preview", args=[p]), {"body": "# x"}),
        ("post", reverse("guideline_edit", args=[p]), {"body": "# x", "change_summary": "y"}),
    ]


def snapshot(project):
    return (
        list(SchemaVersion.objects.filter(project=project).values_list("number", "is_final")),
        list(Label.objects.filter(schema_version__project=project).values_list("key", "name")),
        GuidelineVersion.objects.filter(project=project).count(),
    )


# --------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("persona", ["manager", "reviewer", "annotator"])
def test_members_read_every_page(client, world, personas, persona):
    client = login(client, personas[persona])
    for url in read_pages(world):
        response = client.get(url)
        assert response.status_code == 200, url
        assert world["project"].name in response.content.decode()


def test_manager_may_do_every_write(client, world, manager):
    client = login(client, manager)
    for method, url, data in write_requests(world):
        response = getattr(client, method)(url, data)
        assert response.status_code in (200, 302), (url, response.content.decode()[:500])


@pytest.mark.parametrize("persona", ["reviewer", "annotator"])
def test_readers_get_403_with_a_reason_on_every_write(client, world, personas, persona):
    before = snapshot(world["project"])
    client = login(client, personas[persona])
    for method, url, data in write_requests(world):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, url
        assert "Only a project manager can" in response.content.decode()
    assert snapshot(world["project"]) == before


def test_outsider_gets_403_everywhere_and_sees_no_data(client, world, outsider):
    before = snapshot(world["project"])
    client = login(client, outsider)
    requests = [("get", url, {}) for url in read_pages(world)] + write_requests(world)
    for method, url, data in requests:
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, url
        body = response.content.decode()
        assert world["project"].name not in body and "Needs citation" not in body
    assert snapshot(world["project"]) == before


def test_anonymous_is_sent_to_login_everywhere(client, world):
    requests = [("get", url, {}) for url in read_pages(world)] + write_requests(world)
    for method, url, data in requests:
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and reverse("login") in response["Location"], url


def test_missing_versions_are_404(client, world, manager):
    client = login(client, manager)
    p = world["project"].pk
    assert client.get(reverse("schema_version", args=[p, 99])).status_code == 404
    assert client.get(reverse("guideline_version", args=[p, 99])).status_code == 404
    other_label = world["v1"].labels.first().pk  # belongs to v1, not v2
    assert client.get(reverse("schema_label", args=[p, 2, other_label])).status_code == 404


# --------------------------------------------------------------------------- schema page


def test_readers_see_labels_but_no_editing_controls(client, world, annotator):
    page = login(client, annotator).get(reverse("schema", args=[world["project"].pk]))
    html = page.content.decode()
    assert "Schema v2" in html and "needs-citation" in html and "Fine as it is" in html
    for control in ("Add a label", "Mark final", "New version from this", "Apply preset"):
        assert control not in html


def test_label_rows_are_added_edited_and_deleted_with_htmx(client, world, manager):
    client = login(client, manager)
    p, n = world["project"].pk, world["v2"].number
    response = client.post(
        reverse("schema_label_add", args=[p, n]),
        {"key": "dubious", "name": "Dubious", "hotkey": "d", "positive_examples": "A\n\nB\n"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="labels"' in html
    assert "<code>dubious</code>" in html
    # The versions table, with its label counts, is refreshed out of band.
    assert '<section class="card" id="versions" hx-swap-oob="true">' in html
    added = Label.objects.get(schema_version=world["v2"], key="dubious")
    assert added.positive_examples == ["A", "B"] and added.order == 3

    edit_row = client.get(reverse("schema_label", args=[p, n, added.pk]), **HTMX)
    assert (
        'value="dubious"' in edit_row.content.decode() and "Save label" in edit_row.content.decode()
    )
    client.post(
        reverse("schema_label", args=[p, n, added.pk]),
        {"key": "dubious-claim", "name": "Dubious claim", "hotkey": "d"},
        **HTMX,
    )
    added.refresh_from_db()
    assert (added.key, added.name) == ("dubious-claim", "Dubious claim")

    response = client.post(reverse("schema_label_delete", args=[p, n, added.pk]), **HTMX)
    assert response.status_code == 200 and "dubious-claim" not in response.content.decode()
    assert not Label.objects.filter(pk=added.pk).exists()


def test_label_rule_errors_come_back_in_the_fragment(client, world, manager):
    client = login(client, manager)
    p, n = world["project"].pk, world["v2"].number
    response = client.post(
        reverse("schema_label_add", args=[p, n]), {"key": "Bad Key", "name": "Bad"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in html and "slug-like" in html
    assert 'value="Bad Key"' in html  # the form keeps what was typed
    response = client.post(
        reverse("schema_label_add", args=[p, n]), {"key": "other", "name": "O", "hotkey": "c"}
    )
    assert response.status_code == 400 and "Hotkey &#x27;c&#x27; is used by" in (
        response.content.decode()
    )
    assert world["v2"].labels.count() == 2


def test_finalised_version_is_frozen_and_edits_go_to_a_new_version(client, world, manager):
    client = login(client, manager)
    p = world["project"].pk
    response = client.post(reverse("schema_finalise", args=[p, 2]))
    assert response.status_code == 302
    page = client.get(reverse("schema_version", args=[p, 2])).content.decode()
    assert "frozen" in page and "Add a label" not in page and "New version from this" in page

    refused = client.post(reverse("schema_label_add", args=[p, 2]), {"key": "x", "name": "X"})
    assert refused.status_code == 400 and "frozen, create a new version" in refused.content.decode()

    response = client.post(reverse("schema_new_version", args=[p, 2]))
    assert response["Location"] == reverse("schema_version", args=[p, 3])
    assert SchemaVersion.objects.get(project_id=p, number=3).labels.count() == 2
    old = client.get(reverse("schema_version", args=[p, 1])).content.decode()
    assert "Schema v1" in old and "needs-citation" in old


def test_finalising_too_few_labels_shows_the_rule(client, project, manager):
    client = login(client, manager)
    client.post(reverse("schema_create", args=[project.pk]), {"task_type": "pairwise"})
    response = client.post(reverse("schema_finalise", args=[project.pk, 1]))
    assert response.status_code == 400
    assert "needs at least 2 labels" in response.content.decode()


def test_task_type_question_and_note_are_saved(client, world, manager):
    client = login(client, manager)
    p = world["project"].pk
    client.post(
        reverse("schema_settings", args=[p, 2]),
        {"task_type": "binary", "question": "Does this need a citation?", "note": "Binary now"},
    )
    v2 = SchemaVersion.objects.get(pk=world["v2"].pk)
    assert (v2.task_type, v2.question, v2.note) == (
        "binary",
        "Does this need a citation?",
        "Binary now",
    )


def test_wikisqe_preset_form_makes_a_binary_draft(client, project, manager):
    client = login(client, manager)
    response = client.post(
        reverse("schema_wikisqe", args=[project.pk]), {"top_n": "20", "binary": "on"}
    )
    assert response.status_code == 302
    version = SchemaVersion.objects.get(project=project)
    assert version.task_type == "binary" and version.labels.count() == 20
    page = client.get(response["Location"]).content.decode()
    assert "Does this sentence need a citation?" in page and "Citation (" in page

    bad = client.post(reverse("schema_wikisqe", args=[project.pk]), {"top_n": "0"})
    assert bad.status_code == 400 and SchemaVersion.objects.filter(project=project).count() == 1


def test_wikisqe_preset_form_takes_a_chosen_list(client, project, manager):
    response = login(client, manager).post(
        reverse("schema_wikisqe", args=[project.pk]),
        {"names": "who?\r\ndubious\r\n", "binary": ""},
    )
    assert response.status_code == 302
    version = SchemaVersion.objects.get(project=project)
    assert version.task_type == "multi"
    assert sorted(version.labels.values_list("key", flat=True)) == ["dubious", "who"]


def test_fragment_for_cancelling_an_edit(client, world, manager):
    url = reverse("schema_version", args=[world["project"].pk, 2]) + "?fragment=labels"
    html = login(client, manager).get(url, **HTMX).content.decode()
    assert html.lstrip().startswith('<section class="card" id="labels">')


# --------------------------------------------------------------------------- guideline pages


def test_guideline_page_shows_current_version_with_contents(client, world, annotator):
    html = login(client, annotator).get(reverse("guideline", args=[world["project"].pk]))
    html = html.content.decode()
    assert "v2 · current" in html
    assert '<a href="#sec-needs-citation">Needs citation</a>' in html
    assert '<a href="#sec-fine-as-it-is">Fine as it is</a>' in html
    assert '<h2 id="sec-fine-as-it-is">' in html
    assert "Edit and publish" not in html


def test_older_version_is_readable_and_says_it_is_not_current(client, world, reviewer):
    p = world["project"].pk
    html = login(client, reviewer).get(reverse("guideline_version", args=[p, 1])).content.decode()
    assert "older version" in html and "never mentions: Fine as it is" in html


def test_editor_starts_from_the_schema_when_nothing_is_published(client, project, manager):
    presets.schema_apply_wikisqe(project=project, by=manager, top_n=3)
    client = login(client, manager)
    html = client.get(reverse("guideline_edit", args=[project.pk])).content.decode()
    assert "## citation needed" in html and "## disambiguation needed" in html


def test_start_from_schema_replaces_the_editor_fragment(client, world, manager):
    url = reverse("guideline_edit", args=[world["project"].pk]) + "?start=schema"
    response = login(client, manager).get(url, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="editor">') and "<html" not in html
    assert "## Needs citation" in html and "## Fine as it is" in html


def test_live_preview_renders_safely_and_lists_missing_labels(client, world, manager):
    url = reverse("guideline_preview", args=[world["project"].pk])
    body = "## Needs citation\n\n<script>alert(1)</script> [x](javascript:alert(1))"
    response = login(client, manager).post(url, {"body": body}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="preview"')
    assert '<h2 id="sec-needs-citation">Needs citation</h2>' in html
    assert "<script>alert" not in html and "javascript:" not in html
    assert "Not yet mentioned (1 of schema v1): Fine as it is." in html


def test_publish_from_the_editor_and_refusals_keep_the_text(client, world, manager):
    client = login(client, manager)
    url = reverse("guideline_edit", args=[world["project"].pk])
    current = world["project"].guideline_versions.get(number=2).body
    response = client.post(url, {"body": current, "change_summary": "No change"})
    assert response.status_code == 400 and "Nothing changed since v2" in response.content.decode()
    response = client.post(url, {"body": current + "\nMore.", "change_summary": ""})
    html = response.content.decode()
    assert response.status_code == 400 and "Say what changed" in html and "More." in html
    response = client.post(url, {"body": current + "\nMore.", "change_summary": "Added more"})
    assert response.status_code == 302 and response["Location"] == reverse(
        "guideline", args=[world["project"].pk]
    )
    assert world["project"].guideline_versions.count() == 3


def test_diff_page_puts_versions_side_by_side_and_escapes_them(client, world, manager):
    p = world["project"]
    guideline_svc.guideline_publish(
        project=p,
        by=manager,
        body="# Guide\n\n<b>bold</b> & <script>x()</script>\n",
        change_summary="Raw HTML",
    )
    client = login(client, manager)
    html = client.get(reverse("guideline_diff", args=[p.pk]) + "?a=2&b=3").content.decode()
    assert "v2 → v3" in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html
    assert 'class="replace"' in html or 'class="insert"' in html
    fragment = client.get(
        reverse("guideline_diff", args=[p.pk]) + "?a=1&b=2&fragment=diff", **HTMX
    ).content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="diff">')
    assert "v1 → v2" in fragment
