"""Factories for the annotation app, shared by its tests.

``SourceFactory``/``ItemFactory`` build rows directly (fast, for tests that need items to exist);
``import_bytes`` goes through the real import path (service → Celery task → parser → COPY).
"""

from __future__ import annotations

import factory
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import ImportJob, Item, Source
from annotation.preprocessing import text_hash
from tests.dmops.factories import ProjectFactory


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    project = factory.LazyFunction(ProjectFactory)
    name = factory.Sequence(lambda n: f"Source {n}")
    format = Source.Format.JSONL
    licence = Source.Licence.CC_BY_SA_4
    licence_text = "Wikipedia contributors, CC BY-SA 4.0"
    created_by = factory.LazyAttribute(lambda o: o.project.created_by)


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    source = factory.SubFactory(SourceFactory)
    project = factory.LazyAttribute(lambda o: o.source.project)
    position = factory.Sequence(lambda n: n + 1)
    text = factory.Sequence(lambda n: f"Sentence number {n} makes a claim without a source.")
    raw_text = factory.LazyAttribute(lambda o: o.text)
    text_hash = factory.LazyAttribute(lambda o: text_hash(o.raw_text))


def import_bytes(
    *,
    source: Source,
    by,
    content: bytes,
    name: str = "data.jsonl",
) -> ImportJob:
    """Upload *content* into *source* and run the import now, as the worker would."""
    from annotation.celery_tasks import run_import_job
    from annotation.services.sources import import_job_create

    job = import_job_create(source=source, by=by, uploaded_file=SimpleUploadedFile(name, content))
    run_import_job(job.pk)  # on_commit never fires inside a test transaction; run it directly
    job.refresh_from_db()
    return job
