"""Step 2 imports through the services: every format, all-or-nothing failures, dedupe and
rejections. Tasks and progress are in test_import_task.py, sources and waivers in
test_sources_service.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from annotation.models import ImportJob, Item, Source
from annotation.preprocessing import text_hash
from annotation.services import sources as services
from annotation.services.sources import _rows, _write
from dmops.errors import DomainError
from tests.annotation.factories import ItemFactory, import_bytes

DEMO_ARTICLE = Path(__file__).resolve().parents[2] / "annotation" / "data" / "demo_article.wiki"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunk and batch boundaries every few rows, so they fall inside the test files."""
    monkeypatch.setattr(_write, "CHUNK_ROWS", 2)
    monkeypatch.setattr(_write, "BULK_BATCH", 2)


def new_source(project, manager, fmt="jsonl", **fields) -> Source:
    fields.setdefault("licence", Source.Licence.CC0)
    return services.source_create(
        project=project, by=manager, name=fields.pop("name", f"{fmt} data"), format=fmt, **fields
    )


def do_import(project, manager, content: bytes, fmt="jsonl", name=None, **fields) -> ImportJob:
    source = new_source(project, manager, fmt, **fields)
    return import_bytes(source=source, by=manager, content=content, name=name or f"data.{fmt}")


def texts(job: ImportJob) -> list[str]:
    return list(
        Item.objects.filter(import_job=job).order_by("position").values_list("text", flat=True)
    )


def stored_uploads(media_root) -> list[Path]:
    return [p for p in Path(media_root).rglob("*") if p.is_file()]


# --- formats ----------------------------------------------------------------------------------


def test_csv_with_bom_crlf_quotes_and_embedded_newlines(project, manager):
    content = (
        "\ufeffid,text,lang\r\n"
        '1,"Hello, world.",en\r\n'
        '2,"He said ""hi"" twice.",en\r\n'
        '3,"First line\r\nsecond line",fr\r\n'
        "4,Plain text.,de\r\n"
    ).encode()
    job = do_import(project, manager, content, "csv", options={"id_field": "id"})
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.rows_read, job.items_created, job.duplicates, job.rejected) == (4, 4, 0, 0)
    items = list(Item.objects.filter(import_job=job).order_by("position"))
    assert [i.text for i in items] == [
        "Hello, world.",
        'He said "hi" twice.',
        "First line\r\nsecond line",
        "Plain text.",
    ]
    assert [i.position for i in items] == [2, 3, 4, 6]  # the quoted newline spans lines 4-5
    assert [i.external_id for i in items] == ["1", "2", "3", "4"]
    assert items[0].metadata == {"lang": "en"} and items[0].raw_text == items[0].text
    assert items[0].text_hash == text_hash("Hello, world.")


def test_tsv_and_semicolon_csv(project, manager):
    tsv = do_import(project, manager, b"text\tn\nA tab row.\t1\n", "tsv")
    assert texts(tsv) == ["A tab row."]
    csv = do_import(
        project, manager, b"text;n\nA semicolon row.;1\n", "csv", options={"delimiter": ";"}
    )
    assert texts(csv) == ["A semicolon row."]


def test_jsonl_keeps_ids_and_metadata(project, manager):
    rows = [
        {"uid": 7, "sentence": "The sky is blue.", "url": "http://x"},
        {"uid": 8, "sentence": "Grass is green."},
    ]
    content = "\n".join(json.dumps(r) for r in rows).encode()
    job = do_import(
        project, manager, content, options={"text_field": "sentence", "id_field": "uid"}
    )
    assert texts(job) == ["The sky is blue.", "Grass is green."]
    first = Item.objects.get(import_job=job, position=1)
    assert first.external_id == "7" and first.metadata == {"url": "http://x"}


@pytest.mark.parametrize(
    ("fmt", "content", "expected"),
    [
        ("json", b'[{"text": "One."}, {"text": "Two."}]', ["One.", "Two."]),
        ("text", b"One line.\r\n\r\nAnother line.\n", ["One line.", "Another line."]),
        (
            "labelstudio",
            b'[{"id": 1, "data": {"text": "Labelled."}, "annotations": '
            b'[{"result": [{"value": {"choices": ["citation needed"]}}]}]}]',
            ["Labelled."],
        ),
        (
            "rendered_wiki",
            b"Coffee is popular.[citation needed] It is brewed.[1]\n",
            ["Coffee is popular.", "It is brewed."],
        ),
        (
            "mediawiki_xml",
            b'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/"><page><title>T</title>'
            b"<ns>0</ns><id>1</id><revision><id>9</id><text>Tea is a drink.{{cn}} It is hot."
            b"</text></revision></page></mediawiki>",
            ["Tea is a drink.", "It is hot."],
        ),
    ],
)
def test_every_other_format_imports(project, manager, fmt, content, expected):
    job = do_import(project, manager, content, fmt)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert texts(job) == expected


def test_wikitext_sentences_carry_weak_labels(project, manager):
    job = do_import(project, manager, DEMO_ARTICLE.read_bytes(), "wikitext", name="a.wiki")
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.items_created == 31
    labelled = {i.text: i.weak_labels for i in Item.objects.filter(import_job=job)}
    assert labelled["Some scholars describe them as the first truly public spaces."] == ["who?"]
    assert labelled["Many businesses began as meetings in coffeehouses."] == [
        "clarification needed"
    ]
    assert labelled["Prices vary greatly between countries."] == []
    item = Item.objects.get(import_job=job, position=1)
    assert item.metadata["page_title"] == "wikitext data"  # the title defaults to the name
    assert sum("citation needed" in labels for labels in labelled.values()) == 7


def test_metadata_with_nan_and_huge_integers_imports(project, manager):
    # Python's json reads both; JSON has no NaN (it becomes null), orjson no integers over 64 bits.
    content = b'{"text": "Odd numbers.", "score": NaN, "big": 123456789012345678901234567890}\n'
    job = do_import(project, manager, content)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    metadata = Item.objects.get(import_job=job).metadata
    assert metadata == {"score": None, "big": 123456789012345678901234567890}


# --- all or nothing ---------------------------------------------------------------------------


def test_bad_json_deep_in_the_file_imports_nothing_and_names_the_line(project, manager):
    good = b"".join(b'{"text": "Sentence %d."}\n' % i for i in range(1, 51234))
    job = do_import(project, manager, good + b'{"text": "broken\n' + good[:100])
    assert job.status == ImportJob.Status.FAILED
    assert job.error_line == 51234
    assert "invalid JSON" in job.error
    assert job.items_created == 0 and not Item.objects.exists()
    assert job.rows_read == 51233  # how far it got


def test_missing_column_fails_with_the_header_line(project, manager):
    job = do_import(project, manager, b"id,sentence\n1,Hello.\n", "csv")
    assert job.status == ImportJob.Status.FAILED
    assert job.error_line == 1
    assert "text column 'text' not found" in job.error and "'sentence'" in job.error
    assert not Item.objects.exists()


def test_wrong_encoding_fails_with_line_and_byte(project, manager):
    content = "Good line.\nStill good.\nCafé in Latin-1.\n".encode("latin-1")
    job = do_import(project, manager, content, "text")
    assert job.status == ImportJob.Status.FAILED
    assert job.error_line == 3
    assert "not valid UTF-8" in job.error and "0xe9" in job.error
    assert not Item.objects.exists()


def test_empty_file_fails(project, manager):
    job = do_import(project, manager, b"")
    assert job.status == ImportJob.Status.FAILED
    assert job.error == "the file is empty" and job.error_line is None


def test_file_over_the_size_limit_is_refused_before_it_is_stored(
    project, manager, settings, media_root
):
    settings.DMOPS_MAX_IMPORT_BYTES = 10
    source = new_source(project, manager)
    with pytest.raises(DomainError) as caught:
        services.import_job_create(
            source=source, by=manager, uploaded_file=SimpleUploadedFile("big.jsonl", b"x" * 11)
        )
    assert "11 bytes" in str(caught.value) and "limit is 10 bytes" in str(caught.value)
    assert not ImportJob.objects.exists() and not Item.objects.exists()
    assert stored_uploads(media_root) == []


def test_unexpected_error_fails_the_job_and_leaves_nothing(project, manager, monkeypatch):
    real = services.dedupe_hash
    calls = []

    def exploding(text):
        calls.append(text)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(text)

    monkeypatch.setattr(_rows, "dedupe_hash", exploding)
    job = do_import(project, manager, b'{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n')
    assert job.status == ImportJob.Status.FAILED
    assert "RuntimeError" in job.error and "nothing was imported" in job.error
    assert not Item.objects.exists()


def test_a_failure_after_several_chunks_leaves_nothing(project, manager, small_chunks):
    good = b"".join(b'{"text": "Row %d."}\n' % i for i in range(1, 10))
    job = do_import(project, manager, good + b"[oops\n")
    assert job.status == ImportJob.Status.FAILED and job.error_line == 10
    assert not Item.objects.exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_the_writer_fails_the_job_cleanly(
    project, manager, small_chunks, monkeypatch
):
    real, calls = _write._copy_text, []

    def corrupt_third_chunk(value):
        calls.append(value)
        # metadata of the 5th row (3rd chunk) becomes invalid JSON: the COPY fails in PostgreSQL
        fifth = value.startswith("{") and json.loads(value).get("n") == 5
        return real(value) + ("{" if fifth else "")

    monkeypatch.setattr(_write, "_copy_text", corrupt_third_chunk)
    content = b"".join(b'{"text": "Row %d.", "n": %d}\n' % (i, i) for i in range(1, 9))
    job = do_import(project, manager, content)
    assert job.status == ImportJob.Status.FAILED
    assert "nothing was imported" in job.error
    assert Item.objects.count() == 0
    assert ImportJob.objects.get(pk=job.pk).upload.name == ""


def test_upload_is_deleted_after_success_and_after_failure(project, manager, media_root):
    ok = do_import(project, manager, b'{"text": "Kept."}\n')
    failed = do_import(project, manager, b"not json\n")
    assert ok.status == ImportJob.Status.SUCCEEDED and failed.status == ImportJob.Status.FAILED
    assert ok.upload.name == "" and failed.upload.name == ""
    assert stored_uploads(media_root) == []


# --- duplicates and rejections ----------------------------------------------------------------


def test_duplicates_in_the_file_and_in_the_project_are_dropped_and_counted(
    project, manager, small_chunks
):
    first = do_import(project, manager, b'{"text": "Alpha."}\n{"text": "Beta."}\n')
    assert first.items_created == 2
    content = (
        b'{"text": "Beta."}\n'  # already in the project
        b'{"text": "Gamma."}\n'
        b'{"text": "  Gamma. "}\n'  # same once normalised
        b'{"text": "Delta."}\n'
        b'{"text": "Gamma."}\n'
    )
    second = do_import(project, manager, content, name="second.jsonl")
    assert second.status == ImportJob.Status.SUCCEEDED
    assert (second.rows_read, second.items_created, second.duplicates) == (5, 2, 3)
    assert texts(second) == ["Gamma.", "Delta."]
    assert Item.objects.get(text="Gamma.").position == 2  # the first occurrence wins
    assert Item.objects.filter(project=project).count() == 4


@pytest.mark.parametrize("filter_bits", [27, 3])
def test_duplicates_in_the_first_import_into_a_project_are_dropped(
    project, manager, small_chunks, monkeypatch, filter_bits
):
    """Into an empty project, rows the filter calls first of their hash are COPYed without
    ON CONFLICT. A filter of 8 slots calls most rows "maybe seen" by mistake; those take the
    ON CONFLICT path, and the result must be the same."""
    from annotation.services.sources import _fresh

    monkeypatch.setattr(_fresh, "_FILTER_BITS", filter_bits)
    content = b"".join(
        b'{"text": "%s"}\n' % t.encode()
        for t in ["A.", "B.", "C.", "A.", "D.", " B. ", "E.", "F.", "G.", "A.", "H."]
    )
    job = do_import(project, manager, content)
    assert (job.rows_read, job.items_created, job.duplicates) == (11, 8, 3)
    assert texts(job) == ["A.", "B.", "C.", "D.", "E.", "F.", "G.", "H."]
    assert [p for p, in Item.objects.order_by("position").values_list("position")] == [
        1, 2, 3, 5, 7, 8, 9, 11
    ]  # fmt: skip


def test_duplicates_are_per_project(project, manager):
    ItemFactory(text="Shared sentence.")  # in another project
    job = do_import(project, manager, b'{"text": "Shared sentence."}\n')
    assert job.items_created == 1 and job.duplicates == 0


def test_rejected_rows_are_listed_with_their_lines(project, manager, small_chunks):
    content = (
        b'{"text": "Fine."}\n'
        b'{"text": ""}\n'
        b"\n"
        b"[1, 2]\n"
        b'{"body": "no text key"}\n'
        b'{"text": 42}\n'
        b'{"text": "Also fine."}\n'
    )
    job = do_import(project, manager, content)
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.rows_read, job.items_created, job.rejected) == (6, 2, 4)
    assert [(r["line"], r["code"]) for r in job.rejections] == [
        (2, "empty_text"),
        (4, "not_an_object"),
        (5, "missing_text"),
        (6, "text_not_string"),
    ]
    assert all(r["reason"] for r in job.rejections)


def test_only_the_first_rejections_are_kept_but_all_are_counted(project, manager, monkeypatch):
    monkeypatch.setattr(_rows, "MAX_REJECTIONS_KEPT", 3)
    job = do_import(project, manager, b'{"text": ""}\n' * 5 + b'{"text": "ok"}\n')
    assert job.rejected == 5 and len(job.rejections) == 3 and job.items_created == 1


def test_dedupe_hash_agrees_with_the_preprocessing_hash():
    samples = [
        "Plain ASCII sentence.",
        " leading space",
        "trailing space ",
        "double  space",
        "tab\there",
        "new\nline",
        "Cafe\u0301 decomposed",
        "Café composed",
        "nbsp\u00a0here",
        "zero\u200bwidth",
        "soft\u00adhyphen",
        "ideographic\u3000space",
        "emoji 🎉 and 中文",
        "x",
    ]
    for text in samples:
        assert services.dedupe_hash(text) == text_hash(text), text
