"""Compressed uploads (gzip, bzip2, xz) and the one-article wikitext cap.

Fixtures are compressed in the test with the standard library, so they are real gzip/bzip2/xz
streams; the MediaWiki export is the one test_wikitext.py checks sentence by sentence.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest

from annotation.models import ImportJob, Item
from annotation.sources import ImportFormatError, ParseOptions, get_parser, wikitext
from annotation.sources.compression import detect_compression, open_decompressed
from tests.annotation.test_import_service import do_import, media_root, texts  # noqa: F401
from tests.annotation.test_wikitext import XML

JSONL = b"".join(b'{"id": %d, "text": "Sentence number %d."}\n' % (i, i) for i in range(50))
EXPECTED = [f"Sentence number {i}." for i in range(50)]
COMPRESS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}


def parse(fmt: str, stream: io.BytesIO, max_bytes: int = 1 << 30) -> list[str]:
    decompressed, _ = open_decompressed(stream, max_bytes=max_bytes)
    return [row.text for row in get_parser(fmt)(decompressed, ParseOptions())]


# --- detection and streaming ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_each_compression_is_told_by_its_magic_bytes_and_read_as_a_stream(kind):
    stream = io.BytesIO(COMPRESS[kind](JSONL))
    decompressed, detected = open_decompressed(stream, max_bytes=1 << 20)
    assert detected == kind
    assert [row.text for row in get_parser("jsonl")(decompressed, ParseOptions())] == EXPECTED


def test_plain_files_pass_through_untouched():
    stream = io.BytesIO(JSONL)
    same, detected = open_decompressed(stream, max_bytes=1 << 20)
    assert same is stream and detected is None and stream.tell() == 0


@pytest.mark.parametrize(
    "head",
    [b"BZh", b"BZh9 is how this text file starts\n", b"\x1f", b"", b"\xfd7zX"],
)
def test_text_that_merely_starts_like_a_magic_number_is_not_compressed(head):
    assert detect_compression(head) is None


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"PK\x03\x04rest", "ZIP"),
        (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
        (b"\x28\xb5\x2f\xfd", "Zstandard"),
    ],
)
def test_archives_we_cannot_open_are_named(head, kind):
    with pytest.raises(ImportFormatError, match=kind):
        detect_compression(head)


def test_concatenated_streams_are_read_to_the_end():
    # pigz/pbzip2 and the Wikipedia "multistream" dumps are several streams back to back.
    half = len(JSONL) // 2
    cut = JSONL.rindex(b"\n", 0, half) + 1
    multi = gzip.compress(JSONL[:cut]) + gzip.compress(JSONL[cut:])
    assert parse("jsonl", io.BytesIO(multi)) == EXPECTED
    multi = bz2.compress(JSONL[:cut]) + bz2.compress(JSONL[cut:])
    assert parse("jsonl", io.BytesIO(multi)) == EXPECTED


def test_a_bzip2_mediawiki_dump_is_parsed_page_by_page():
    dump = bz2.compress(XML.format(version="0.11").encode())
    assert parse("mediawiki_xml", io.BytesIO(dump)) == [
        "Alpha is first.",
        "Second.",
        "Third & last.",
        "Gamma one.",
        "Gamma two.",
    ]


def test_decompressing_past_the_limit_fails_however_small_the_upload():
    bomb = gzip.compress(b"A" * 1_000_000)  # ~1 KB that expands a thousandfold
    assert len(bomb) < 5000
    with pytest.raises(ImportFormatError, match="decompresses to more than 100,000 bytes"):
        parse("text", io.BytesIO(bomb), max_bytes=100_000)
    assert parse("text", io.BytesIO(gzip.compress(b"A" * 1000)), max_bytes=1000) == ["A" * 1000]


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_truncated_compressed_data_is_fatal(kind):
    data = COMPRESS[kind](JSONL)
    with pytest.raises(ImportFormatError, match=f"the {kind} data is corrupt or truncated"):
        parse("jsonl", io.BytesIO(data[: len(data) * 2 // 3]))


def test_corrupt_compressed_data_is_fatal():
    data = bytearray(bz2.compress(JSONL))
    data[40:60] = bytes(20)
    with pytest.raises(ImportFormatError, match="the bzip2 data is corrupt"):
        parse("jsonl", io.BytesIO(bytes(data)))


# --- the wikitext cap ---------------------------------------------------------------------------


def test_a_wikitext_article_over_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(wikitext, "MAX_ARTICLE_BYTES", 40)
    fits = b"An article under forty bytes long."
    assert len(fits) < 40
    assert [r.text for r in get_parser("wikitext")(io.BytesIO(fits), ParseOptions())]
    with pytest.raises(ImportFormatError, match="upload a MediaWiki XML export"):
        list(get_parser("wikitext")(io.BytesIO(fits + b" More words."), ParseOptions()))


def test_the_wikitext_cap_is_mediawikis_default_page_size_limit():
    assert wikitext.MAX_ARTICLE_BYTES == 2048 * 1024  # $wgMaxArticleSize, in bytes


# --- through the import service -----------------------------------------------------------------


def test_a_gzipped_upload_imports_whatever_its_name(project, manager):
    job = do_import(project, manager, gzip.compress(JSONL), "jsonl", name="export.jsonl")
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert texts(job) == EXPECTED
    assert job.bytes_read == job.file_size  # progress is counted on the upload


def test_a_bzip2_dump_imports_with_weak_labels(project, manager):
    dump = bz2.compress(XML.format(version="0.10").encode())
    job = do_import(project, manager, dump, "mediawiki_xml", name="enwiki-pages-articles.xml.bz2")
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    labelled = dict(Item.objects.filter(import_job=job).values_list("text", "weak_labels"))
    assert labelled["Alpha is first."] == ["who?"]
    assert labelled["Gamma two."] == ["clarification needed"]


def test_a_gzipped_csv_with_a_bom_imports(project, manager):
    csv = '\ufefftext,id\r\n"Quoted, with comma",1\r\nPlain,2\r\n'.encode()
    job = do_import(project, manager, gzip.compress(csv), "csv", name="rows.csv.gz")
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert texts(job) == ["Quoted, with comma", "Plain"]


def test_a_decompression_bomb_fails_the_import_and_leaves_nothing(project, manager, settings):
    settings.DMOPS_MAX_IMPORT_BYTES = 50_000
    lines = b"".join(b'{"text": "Row %d padded %s"}\n' % (i, b"x" * 80) for i in range(2000))
    upload = gzip.compress(lines)
    assert len(upload) < settings.DMOPS_MAX_IMPORT_BYTES < len(lines)
    job = do_import(project, manager, upload, "jsonl")
    assert job.status == ImportJob.Status.FAILED
    assert "decompresses to more than 50,000 bytes" in job.error
    assert not Item.objects.exists()


def test_a_truncated_download_fails_the_import_and_leaves_nothing(project, manager):
    data = bz2.compress(JSONL)
    job = do_import(project, manager, data[:-20], "jsonl", name="cut.jsonl.bz2")
    assert job.status == ImportJob.Status.FAILED
    assert "bzip2 data is corrupt or truncated" in job.error
    assert not Item.objects.exists()


def test_a_zip_upload_says_what_to_do(project, manager):
    job = do_import(project, manager, b"PK\x03\x04" + bytes(40), "jsonl", name="data.zip")
    assert job.status == ImportJob.Status.FAILED
    assert "ZIP archive" in job.error and "gzip (.gz)" in job.error
