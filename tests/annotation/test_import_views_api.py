"""Step 2 pages and REST endpoints: who may do what, htmx fragments, uploads end to end."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import ImportJob, Item, Source
from tests.annotation.factories import ItemFactory, SourceFactory, import_bytes


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def source(project):
    return SourceFactory(project=project, licence=Source.Licence.UNKNOWN, name="Forum dump")


@pytest.fixture
def job(source, manager):
    content = b'{"text": "Coffee is hot."}\n{"text": ""}\n{"text": "Tea is hot."}\n'
    return import_bytes(source=source, by=manager, content=content)


def upload(name="d.jsonl", content=b'{"text": "Uploaded sentence."}\n'):
    return SimpleUploadedFile(name, content)


def source_form(**extra):
    data = {"name": "New data", "format": "jsonl", "licence": "cc0-1.0", "file": upload()}
    return {**data, **extra}


def page_urls(project, source, job):
    return [
        reverse("project_data", args=[project.pk]),
        reverse("import_job", args=[project.pk, job.pk]),
        reverse("project_items", args=[project.pk]),
    ]


def write_requests(project, source):
    """(url, data) of every page that changes something."""
    return [
        (reverse("source_create", args=[project.pk]), source_form()),
        (reverse("source_upload", args=[project.pk, source.pk]), {"file": upload()}),
        (reverse("source_waiver", args=[project.pk, source.pk]), {"reason": "Legal said yes."}),
    ]


def api_reads(project, source, job):
    return [
        f"/api/projects/{project.pk}/sources/",
        f"/api/sources/{source.pk}/",
        f"/api/import-jobs/{job.pk}/",
        f"/api/projects/{project.pk}/items/",
    ]


def api_writes(project, source):
    return [
        (f"/api/projects/{project.pk}/sources/", source_form()),
        (f"/api/sources/{source.pk}/waiver/", {"reason": "Legal said yes."}),
    ]


# --- permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["manager", "reviewer", "annotator"])
def test_members_can_view_every_page(client, project, source, job, personas, persona):
    client.force_login(personas[persona])
    for url in page_urls(project, source, job):
        assert client.get(url).status_code == 200, url
    form = client.get(reverse("source_create", args=[project.pk]))
    assert form.status_code == (200 if persona == "manager" else 403)


@pytest.mark.parametrize("persona", ["reviewer", "annotator", "outsider"])
def test_only_managers_change_anything_through_the_pages(
    client, project, source, job, personas, persona
):
    client.force_login(personas[persona])
    for url, data in write_requests(project, source):
        assert client.post(url, data).status_code == 403, url
    assert Source.objects.count() == 1 and ImportJob.objects.count() == 1
    source.refresh_from_db()
    assert source.licence_waiver == ""


def test_outsider_gets_403_on_every_page_and_endpoint(client, api, project, source, job, outsider):
    client.force_login(outsider)
    for url in page_urls(project, source, job):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"Coffee is hot" not in response.content
    api.force_authenticate(outsider)
    for url in api_reads(project, source, job):
        response = api.get(url)
        assert response.status_code == 403, url
        assert b"Coffee is hot" not in response.content
    for url, data in api_writes(project, source):
        assert api.post(url, data, format="multipart").status_code == 403, url


def test_anonymous_is_sent_to_login_or_refused(client, api, project, source, job):
    for url in page_urls(project, source, job):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for url, data in write_requests(project, source):
        assert client.post(url, data).status_code == 302
    for url in api_reads(project, source, job):
        assert api.get(url).status_code in (401, 403), url
    for url, data in api_writes(project, source):
        assert api.post(url, data, format="multipart").status_code in (401, 403), url


@pytest.mark.parametrize("persona", ["manager", "reviewer", "annotator"])
def test_members_read_the_api_and_only_managers_write(api, project, source, job, personas, persona):
    api.force_authenticate(personas[persona])
    for url in api_reads(project, source, job):
        assert api.get(url).status_code == 200, url
    expected = 201 if persona == "manager" else 403
    create_url, data = api_writes(project, source)[0]
    assert api.post(create_url, data, format="multipart").status_code == expected
    waiver_url, data = api_writes(project, source)[1]
    assert api.post(waiver_url, data).status_code == (200 if persona == "manager" else 403)


def test_unknown_objects_are_404(client, api, project, manager):
    client.force_login(manager)
    assert client.get(reverse("import_job", args=[project.pk, 999])).status_code == 404
    assert client.get(reverse("project_data", args=[999])).status_code == 404
    api.force_authenticate(manager)
    assert api.get("/api/sources/999/").status_code == 404
    assert api.get("/api/import-jobs/999/").status_code == 404


def test_a_job_is_only_shown_under_its_own_project(client, project, job, manager):
    from tests.dmops.factories import ProjectFactory

    other = ProjectFactory(manager=manager, name="Other")
    client.force_login(manager)
    assert client.get(reverse("import_job", args=[other.pk, job.pk])).status_code == 404


# --- pages ------------------------------------------------------------------------------------


def test_data_page_lists_sources_licences_counts_and_history(client, project, source, job, manager):
    client.force_login(manager)
    html = client.get(reverse("project_data", args=[project.pk])).content.decode()
    assert "Forum dump" in html and "Unknown" in html
    assert "Waive" in html and "Add source" in html
    assert job.file_name in html and "Imported" in html
    assert "<td>2</td>" in html  # the source's item count


def test_read_only_members_see_no_forms(client, project, source, job, annotator):
    client.force_login(annotator)
    html = client.get(reverse("project_data", args=[project.pk])).content.decode()
    assert "Forum dump" in html
    assert "Add source" not in html and "Waive" not in html and "Upload more" not in html


def test_adding_a_source_imports_the_file_and_shows_the_report(
    client, project, manager, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    content = b"id,text\n1,Coffee is hot.\n2,\n3,Coffee is hot.\n"
    data = source_form(
        name="Survey", format="csv", file=upload("survey.csv", content), id_field="id",
        title="ignored for csv", origin_url="https://example.org/survey",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("source_create", args=[project.pk]), data)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("import_job", args=[project.pk, job.pk])
    assert job.source.options == {"id_field": "id"}
    assert job.source.origin_url == "https://example.org/survey"
    html = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' not in html  # finished: no more polling
    assert 'data-testid="items-created">1<' in html
    assert 'data-testid="duplicates">1<' in html
    assert 'data-testid="rejected">1<' in html
    assert "<td>3</td><td>empty text</td>" in html  # the rejected line and why


def test_source_form_shows_service_errors(client, project, manager, settings):
    settings.DMOPS_MAX_IMPORT_BYTES = 3
    client.force_login(manager)
    response = client.post(reverse("source_create", args=[project.pk]), source_form())
    assert response.status_code == 200
    assert "the import limit is 3 bytes" in response.content.decode()
    assert not Source.objects.exists()


def test_failed_import_page_says_what_and_where(client, project, source, manager):
    job = import_bytes(source=source, by=manager, content=b'{"text": "ok"}\n{oops}\n')
    client.force_login(manager)
    html = client.get(reverse("import_job", args=[project.pk, job.pk])).content.decode()
    assert "Nothing was imported." in html and "Line 2:" in html and "invalid JSON" in html


def test_running_job_fragment_polls_every_second(client, project, source, manager):
    job = ImportJob.objects.create(
        project=project, source=source, file_name="big.jsonl", file_size=1000,
        status=ImportJob.Status.RUNNING, bytes_read=250, rows_read=12,
    )  # fmt: skip
    client.force_login(manager)
    url = reverse("import_job", args=[project.pk, job.pk])
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section id="progress"')
    assert 'hx-trigger="every 1s"' in fragment and f'hx-get="{url}"' in fragment
    assert 'value="25"' in fragment and "12 records read" in fragment
    assert "<html" not in fragment


def test_waiver_through_the_page(client, project, source, manager):
    client.force_login(manager)
    url = reverse("source_waiver", args=[project.pk, source.pk])
    response = client.post(url, {"reason": "Public forum, research use approved."})
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.licence_waiver == "Public forum, research use approved."


def test_upload_more_into_an_existing_source(
    client, project, source, job, manager, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    url = reverse("source_upload", args=[project.pk, source.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"file": upload(content=b'{"text": "Coffee is hot."}\n')})
    second = ImportJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("import_job", args=[project.pk, second.pk])
    second.refresh_from_db()
    assert second.duplicates == 1 and second.items_created == 0


def test_item_browser_filters_and_paginates(client, project, manager):
    wiki = SourceFactory(project=project, name="Wiki")
    other = SourceFactory(project=project, name="Other")
    for n in range(55):
        ItemFactory(
            source=wiki,
            text=f"Wiki sentence {n}.",
            weak_labels=["citation needed"] if n % 5 == 0 else [],
        )
    ItemFactory(source=other, text="Unrelated coffee sentence.", weak_labels=["who?"])
    client.force_login(manager)
    url = reverse("project_items", args=[project.pk])
    first = client.get(url).content.decode()
    assert "56 items" in first and "page 1 of 2" in first and "page=2" in first
    by_label = client.get(url, {"weak_label": "citation needed"}).content.decode()
    assert "11 items" in by_label
    by_source = client.get(url, {"source": other.pk}).content.decode()
    assert "1 item" in by_source and "Unrelated coffee sentence." in by_source
    by_text = client.get(url, {"q": "COFFEE"}).content.decode()
    assert "1 item" in by_text
    fragment = client.get(url, {"page": 2}, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section id="items"') and "page 2 of 2" in fragment


# --- REST -------------------------------------------------------------------------------------


def test_rest_upload_end_to_end(api, project, manager, django_capture_on_commit_callbacks):
    api.force_authenticate(manager)
    lines = [
        {"id": "a", "text": "Coffee was first brewed in Yemen.", "src": "x"},
        {"id": "b", "text": "Coffee was first brewed in Yemen."},
        {"id": "c", "text": "Tea came from China."},
        {"id": "d", "text": None},
    ]
    content = "\n".join(json.dumps(x) for x in lines).encode()
    data = {
        "file": upload("facts.jsonl", content),
        "name": "Facts",
        "format": "jsonl",
        "licence": "cc-by-4.0",
        "licence_text": "Example Org",
        "collected_on": "2026-01-02",
        "id_field": "id",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/projects/{project.pk}/sources/", data, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"]["name"] == "Facts" and body["source"]["options"] == {"id_field": "id"}
    assert body["source"]["collected_on"] == "2026-01-02"
    job_url = f"/api/import-jobs/{body['import_job']['id']}/"
    report = api.get(job_url).json()
    assert report["status"] == "succeeded" and report["progress_percent"] == 100
    assert (report["rows_read"], report["items_created"], report["duplicates"]) == (4, 2, 1)
    assert report["rejections"] == [
        {"line": 4, "code": "missing_text", "reason": "no text field 'text'"}
    ]
    source_id = body["source"]["id"]
    detail = api.get(f"/api/sources/{source_id}/").json()
    assert detail["item_count"] == 2 and detail["licence_cleared"] is True
    items = api.get(f"/api/projects/{project.pk}/items/", {"source": source_id}).json()
    assert items["count"] == 2
    assert [i["external_id"] for i in items["results"]] == ["a", "c"]
    assert items["results"][0]["metadata"] == {"src": "x"}
    assert api.get(f"/api/projects/{project.pk}/items/", {"q": "tea"}).json()["count"] == 1


def test_rest_rejects_bad_input_with_400(api, project, manager, settings):
    api.force_authenticate(manager)
    url = f"/api/projects/{project.pk}/sources/"
    missing = api.post(url, {"name": "No file", "format": "jsonl"}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()
    bad_format = api.post(url, source_form(format="docx"), format="multipart")
    assert bad_format.status_code == 400 and "format" in bad_format.json()
    bad_option = api.post(url, source_form(title="x"), format="multipart")
    assert bad_option.status_code == 400 and "title not used" in json.dumps(bad_option.json())
    settings.DMOPS_MAX_IMPORT_BYTES = 3
    too_big = api.post(url, source_form(), format="multipart")
    assert too_big.status_code == 400 and "import limit" in json.dumps(too_big.json())
    assert not Source.objects.exists()


def test_rest_items_filter_by_weak_label(api, project, manager):
    source = SourceFactory(project=project)
    ItemFactory(source=source, text="Claimed.", weak_labels=["citation needed", "who?"])
    ItemFactory(source=source, text="Fine.", weak_labels=[])
    ItemFactory(source=source, text="Near miss.", weak_labels=["citation needed later"])
    api.force_authenticate(manager)
    url = f"/api/projects/{project.pk}/items/"
    result = api.get(url, {"weak_label": "citation needed"}).json()
    assert [i["text"] for i in result["results"]] == ["Claimed."]
    assert api.get(url, {"weak_label": "who?"}).json()["count"] == 1
    assert api.get(url).json()["count"] == 3
    assert Item.objects.count() == 3


def test_admin_lists_the_annotation_models_read_mostly(client, project, job, manager):
    from annotation.models import GuidelineVersion, PreprocessingRun, SchemaVersion

    manager.is_staff = manager.is_superuser = True
    manager.save()
    client.force_login(manager)
    for model in (Source, ImportJob, Item, PreprocessingRun, SchemaVersion, GuidelineVersion):
        name = model._meta.model_name
        assert client.get(reverse(f"admin:annotation_{name}_changelist")).status_code == 200
    for obj in (job.source, job, Item.objects.first()):
        url = reverse(f"admin:annotation_{obj._meta.model_name}_change", args=[obj.pk])
        assert client.get(url).status_code == 200
    assert client.get(reverse("admin:annotation_source_add")).status_code == 403
    assert client.get(reverse("admin:annotation_item_delete", args=[1])).status_code == 403


def test_rest_upload_of_a_bzip2_wikipedia_dump(
    api, project, manager, django_capture_on_commit_callbacks
):
    import bz2

    from tests.annotation.test_wikitext import XML

    api.force_authenticate(manager)
    dump = bz2.compress(XML.format(version="0.11").encode())
    data = {
        "file": upload("enwiki-sample-pages-articles.xml.bz2", dump),
        "name": "Wikipedia sample",
        "format": "mediawiki_xml",
        "licence": "cc-by-sa-4.0",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/projects/{project.pk}/sources/", data, format="multipart")
    assert response.status_code == 201, response.content
    report = api.get(f"/api/import-jobs/{response.json()['import_job']['id']}/").json()
    assert report["status"] == "succeeded" and report["items_created"] == 5
    assert report["file_size"] == len(dump) and report["progress_percent"] == 100
    flagged = api.get(f"/api/projects/{project.pk}/items/", {"weak_label": "who?"}).json()
    assert [i["text"] for i in flagged["results"]] == ["Alpha is first."]
