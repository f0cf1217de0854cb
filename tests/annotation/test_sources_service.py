"""Step 2 sources through the services: provenance, option checks, who may add and upload,
licence waivers and the step-2 gates."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation import gates
from annotation.models import ImportJob, Source
from annotation.services import sources as services
from dmops.errors import DomainError
from tests.annotation.test_import_service import (  # noqa: F401 - media_root is a fixture
    do_import,
    media_root,
    new_source,
)

# --- sources, permissions, licence waiver -----------------------------------------------------


@pytest.mark.parametrize("persona", ["reviewer", "annotator", "outsider"])
def test_only_managers_add_sources_upload_and_waive(project, manager, personas, persona):
    user = personas[persona]
    with pytest.raises(PermissionDenied):
        new_source(project, user)
    source = new_source(project, manager, licence=Source.Licence.UNKNOWN)
    with pytest.raises(PermissionDenied):
        services.import_job_create(
            source=source, by=user, uploaded_file=SimpleUploadedFile("d.jsonl", b"{}")
        )
    with pytest.raises(PermissionDenied):
        services.source_waive_licence(source=source, by=user, reason="fine")
    assert not ImportJob.objects.exists()


def test_source_records_provenance_and_checks_options(project, manager):
    source = new_source(
        project,
        manager,
        "csv",
        name="  Talk pages ",
        origin_url="https://example.org/dump",
        licence=Source.Licence.CC_BY_SA_4,
        licence_text="Wikipedia contributors",
        notes="Sampled in May.",
        options={"text_field": "body", "metadata_fields": "a, b", "delimiter": "\\t"},
    )
    assert source.name == "Talk pages" and source.created_by == manager
    assert source.options == {
        "text_field": "body",
        "metadata_fields": ["a", "b"],
        "delimiter": "\t",
    }
    with pytest.raises(DomainError, match="title not used by the csv format"):
        new_source(project, manager, "csv", options={"title": "x"})
    with pytest.raises(DomainError, match="language must be one of"):
        new_source(project, manager, "wikitext", options={"language": "xx"})
    with pytest.raises(DomainError) as caught:
        new_source(project, manager, "jsonl", origin_url="not a url")
    assert "origin_url" in caught.value.message_dict
    with pytest.raises(DomainError):
        new_source(project, manager, "docx")


def test_licence_waiver_clears_the_step_2_gate(project, manager):
    source = new_source(project, manager, licence=Source.Licence.UNKNOWN, name="Scraped forum")
    assert not gates.licences_known(project).passed
    with pytest.raises(DomainError):
        services.source_waive_licence(source=source, by=manager, reason="  ")
    services.source_waive_licence(source=source, by=manager, reason="Internal use, legal OK'd.")
    assert gates.licences_known(project).passed
    known = new_source(project, manager)
    with pytest.raises(DomainError, match="nothing to waive"):
        services.source_waive_licence(source=known, by=manager, reason="x")


def test_a_source_and_its_upload_are_created_together_or_not_at_all(project, manager, settings):
    settings.DMOPS_MAX_IMPORT_BYTES = 5
    with pytest.raises(DomainError):
        services.source_create_with_upload(
            project=project,
            by=manager,
            uploaded_file=SimpleUploadedFile("d.jsonl", b"123456"),
            name="Too big",
            format="jsonl",
        )
    assert not Source.objects.exists()


def test_has_source_gate_passes_after_an_import(project, manager):
    assert not gates.has_source(project).passed
    do_import(project, manager, b'{"text": "Something."}\n')
    assert gates.has_source(project).passed


def test_demo_seeder_imports_the_bundled_article(
    project, manager, django_capture_on_commit_callbacks
):
    from annotation.demo import DEMO_SOURCE_NAME, seed_demo_source

    with django_capture_on_commit_callbacks(execute=True):
        seed_demo_source(project, {"maya": manager})
    source = Source.objects.get(project=project, name=DEMO_SOURCE_NAME)
    assert source.licence == Source.Licence.CC_BY_SA_4 and "CC BY-SA" in source.licence_text
    job = source.imports.get()
    assert job.status == ImportJob.Status.SUCCEEDED and job.items_created == 31
    seed_demo_source(project, {"maya": manager})  # idempotent
    assert Source.objects.filter(project=project).count() == 1
    assert default_storage.exists(job.upload.name or "nothing") is False
