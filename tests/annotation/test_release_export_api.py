"""Step 12 over REST: release endpoints, exports (round trips, checksums, ETag, Range,
streaming), keyset-paginated rows, the live export, and who may do what."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pyarrow.parquet as pq
import pytest
from django.http import StreamingHttpResponse
from rest_framework.authtoken.models import Token

from annotation.exports import get_exporter
from annotation.models import Item, Release, ReleaseRow
from annotation.selectors import releases as release_selectors
from annotation.sources.base import ParsedRow, ParseOptions
from annotation.sources.labelstudio import parse_labelstudio
from tests.annotation.factories import SourceFactory
from tests.annotation.test_releases import create_release, make_annotated_project

SPLITS = ("train", "dev", "test")


def body(response) -> bytes:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content)
    return response.content


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def release(project, manager, media, django_capture_on_commit_callbacks):
    make_annotated_project(project, manager)
    with django_capture_on_commit_callbacks(execute=True):
        created = create_release(project, manager, include_judgements=True)
    created.refresh_from_db()
    assert created.status == Release.Status.PUBLISHED
    return created


@pytest.fixture
def manager_api(api, manager):
    token = Token.objects.create(user=manager)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


def export_url(release, **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/releases/{release.pk}/export?{params}"


def rows_by_id(release) -> dict[int, ReleaseRow]:
    return {r.item_id: r for r in release.rows.all()}


# --- round trips -----------------------------------------------------------------------------


def _download_splits(api, release, fmt, ext, tmp_path) -> dict[str, str]:
    """The release's non-empty splits as files. Which items fall in which split hashes their
    ids, so with a few dozen items a 10 % split is sometimes empty, and ``datasets`` refuses a
    Parquet file without rows ("corresponds to no data")."""
    files = {}
    for split in (s for s in SPLITS if release.split_counts.get(s)):
        response = api.get(export_url(release, format=fmt, split=split))
        assert response.status_code == 200
        path = tmp_path / f"{split}.{ext}"
        path.write_bytes(body(response))
        files[split] = str(path)
    return files


@pytest.mark.parametrize(("fmt", "ext"), [("jsonl", "json"), ("parquet", "parquet")])
def test_export_loads_with_datasets_and_gives_back_the_rows(
    manager_api, release, tmp_path, fmt, ext
):
    files = _download_splits(
        manager_api, release, fmt, "jsonl" if fmt == "jsonl" else fmt, tmp_path
    )
    expected = rows_by_id(release)
    try:
        import datasets
    except ImportError:  # pragma: no cover - depends on the environment
        datasets = None
    if datasets is not None:
        loaded = datasets.load_dataset(ext, data_files=files, cache_dir=str(tmp_path / "hf"))
        splits = {name: loaded[name].to_list() for name in loaded}
    else:  # pragma: no cover
        pytest.skip("the datasets library is not installed; cannot check load_dataset")
    seen = 0
    for split, rows in splits.items():
        for row in rows:
            original = expected[row["id"]]
            assert (row["split"], row["label"], row["label_rule"]) == (
                split,
                original.label,
                original.label_rule,
            )
            assert row["text"] == original.text
            judgements = row["judgements"]
            if isinstance(judgements, str):  # Parquet keeps nested JSON as a JSON string
                judgements = json.loads(judgements)
            assert judgements == original.judgements
            seen += 1
    assert seen == release.row_count


def test_csv_export_parses_back_to_the_rows(manager_api, release):
    expected = rows_by_id(release)
    got = 0
    for split in SPLITS:
        text = body(manager_api.get(export_url(release, format="csv", split=split))).decode()
        for row in csv.DictReader(io.StringIO(text)):
            original = expected[int(row["id"])]
            assert (row["split"], row["label"], row["text"]) == (
                split,
                original.label,
                original.text,
            )
            assert json.loads(row["metadata"]) == original.metadata
            got += 1
    assert got == release.row_count


def test_parquet_files_are_per_split(manager_api, release, tmp_path):
    files = _download_splits(manager_api, release, "parquet", "parquet", tmp_path)
    for split, path in files.items():
        table = pq.read_table(path)
        assert set(table.column("split").to_pylist()) <= {split}
        assert table.num_rows == release.split_counts[split]


def test_label_studio_export_round_trips_through_our_importer(manager_api, release):
    exported = body(manager_api.get(export_url(release, format="labelstudio")))
    tasks = json.loads(exported)
    assert len(tasks) == release.row_count
    parsed = [r for r in parse_labelstudio(io.BytesIO(exported), ParseOptions())]
    assert all(isinstance(r, ParsedRow) for r in parsed)
    # Back to export rows, as an import of the file would hold them, and out again.
    rows = []
    for r in parsed:
        metadata = {k: v for k, v in r.metadata.items() if k not in ("annotations", "dmops_id")}
        label = list(r.weak_labels) if len(r.weak_labels) > 1 else r.weak_labels[0]
        rows.append(
            {"id": int(r.external_id), "text": r.text, "label": label, "metadata": metadata}
        )
    again = b"".join(
        get_exporter("labelstudio").iter_bytes(rows, ["id", "text", "label", "metadata"])
    )
    assert json.loads(again) == [{k: v for k, v in t.items() if k != "meta"} for t in tasks]


# --- checksums, ETag, Range ------------------------------------------------------------------


def test_checksums_match_the_bytes_served(manager_api, release):
    detail = manager_api.get(f"/api/releases/{release.pk}/").json()
    assert len(detail["files"]) == 3 * 3 + 1
    for f in detail["files"]:
        query = {"format": f["format"]} | ({"split": f["split"]} if f["split"] else {})
        response = manager_api.get(export_url(release, **query))
        data = body(response)
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        assert len(data) == f["byte_count"] == int(response["Content-Length"])
        assert response["ETag"] == f'"{f["sha256"]}"'
        assert "attachment" in response["Content-Disposition"]


def test_if_none_match_gives_304(manager_api, release):
    first = manager_api.get(export_url(release, format="jsonl", split="train"))
    again = manager_api.get(
        export_url(release, format="jsonl", split="train"), HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert again.status_code == 304 and again["ETag"] == first["ETag"] and not again.content
    other = manager_api.get(
        export_url(release, format="jsonl", split="train"), HTTP_IF_NONE_MATCH='"nope"'
    )
    assert other.status_code == 200


def test_range_requests_give_206(manager_api, release):
    url = export_url(release, format="jsonl", split="train")
    whole = body(manager_api.get(url))
    size = len(whole)
    cases = {
        "bytes=0-99": (0, 99),
        "bytes=100-": (100, size - 1),
        "bytes=-50": (size - 50, size - 1),
    }
    for header, (start, end) in cases.items():
        response = manager_api.get(url, HTTP_RANGE=header)
        assert response.status_code == 206, header
        assert response["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert body(response) == whole[start : end + 1]
    assert manager_api.get(url, HTTP_RANGE=f"bytes={size}-").status_code == 416
    stale = manager_api.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert stale.status_code == 200 and body(stale) == whole


def test_chosen_fields_stream_from_the_database(manager_api, release):
    url = export_url(release, format="jsonl", split="dev", fields="id,label")
    response = manager_api.get(url)
    assert isinstance(response, StreamingHttpResponse)
    assert response["ETag"].startswith('W/"') and response["Accept-Ranges"] == "none"
    lines = [json.loads(line) for line in body(response).splitlines()]
    assert all(set(line) == {"id", "label"} for line in lines)
    assert len(lines) == release.split_counts["dev"]
    cached = manager_api.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert cached.status_code == 304


def test_bad_format_split_or_fields_are_400(manager_api, release):
    for query in ({"format": "xml"}, {"split": "valid"}, {"fields": "id,nope"}):
        assert manager_api.get(export_url(release, **query)).status_code == 400, query
    plain = create_release(release.project, release.created_by)
    assert manager_api.get(export_url(plain, fields="id,judgements")).status_code == 400


# --- streaming -------------------------------------------------------------------------------


def test_first_chunk_arrives_before_all_rows_are_read(
    manager_api, project, manager, media, monkeypatch
):
    source = SourceFactory(project=project)
    Item.objects.bulk_create(
        Item(
            project=project,
            source=source,
            position=i,
            text=f"Sentence {i} " + "claims something without a source. " * 3,
            raw_text=f"r{i}",
            text_hash=f"h{i}",
            final_label="yes",
            final_rule="aggregated",
        )
        for i in range(3000)
    )
    release = create_release(project, manager, known_limitations="x")
    pulled = {"n": 0}
    original = release_selectors.release_row_dicts

    def counting(*args, **kwargs):
        for row in original(*args, **kwargs):
            pulled["n"] += 1
            yield row

    monkeypatch.setattr(release_selectors, "release_row_dicts", counting)
    # A field choice has no built file: the rows stream from the database.
    response = manager_api.get(export_url(release, format="jsonl", fields="id,text,label"))
    assert isinstance(response, StreamingHttpResponse)
    chunks = iter(response.streaming_content)
    first = next(chunks)
    assert first and 0 < pulled["n"] < 3000
    rest = b"".join(chunks)
    assert pulled["n"] == 3000 and (first + rest).count(b"\n") == 3000


# --- rows ------------------------------------------------------------------------------------


def test_rows_are_cursor_paginated(manager_api, release):
    seen, after, pages = [], 0, 0
    while after is not None:
        page = manager_api.get(f"/api/releases/{release.pk}/rows?after={after}&limit=10").json()
        seen += [r["item"] for r in page["results"]]
        after, pages = page["next_after"], pages + 1
    assert sorted(seen) == sorted(rows_by_id(release)) and pages == 4
    assert manager_api.get(f"/api/releases/{release.pk}/rows?limit=5000").status_code == 400


# --- create and live export ------------------------------------------------------------------


def test_manager_creates_a_release_over_the_api(
    manager_api, project, manager, media, django_capture_on_commit_callbacks
):
    make_annotated_project(project, manager)
    with django_capture_on_commit_callbacks(execute=False) as build_job:
        response = manager_api.post(
            f"/api/projects/{project.pk}/releases/",
            {
                "split_ratios": {"train": 0.7, "dev": 0.15, "test": 0.15},
                "seed": "abc",
                "known_limitations": "Small.",
            },
            format="json",
        )
    assert response.status_code == 202, response.content
    data = response.json()
    assert (data["number"], data["status"], data["seed"], data["row_count"]) == (
        1,
        "building",
        "abc",
        0,
    )
    assert data["status_url"] == response["Location"] == f"/api/releases/{data['id']}/"
    # Nothing to download while it builds.
    waiting = manager_api.get(export_url(Release.objects.get(pk=data["id"]), format="jsonl"))
    assert waiting.status_code == 409
    assert manager_api.get(f"/api/releases/{data['id']}/rows").status_code == 409
    build_job[0]()  # the Celery job, run in-process
    detail = manager_api.get(data["status_url"]).json()
    assert detail["status"] == "published" and detail["progress"] == 100
    assert detail["row_count"] == 36 and len(detail["files"]) == 10
    assert "## Known limitations" in detail["datasheet_markdown"]
    listed = manager_api.get(f"/api/projects/{project.pk}/releases/").json()
    assert [r["number"] for r in listed] == [1]
    bad = manager_api.post(
        f"/api/projects/{project.pk}/releases/", {"split_ratios": {"train": 2}}, format="json"
    )
    assert bad.status_code == 400


def test_a_failed_release_cannot_be_downloaded(manager_api, release):
    Release.objects.filter(pk=release.pk).update(status=Release.Status.FAILED, error="disk full")
    response = manager_api.get(export_url(release, format="csv", split="test"))
    assert response.status_code == 409 and "disk full" in response.json()["detail"]


def test_live_export_streams_current_final_labels(manager_api, project, manager):
    make_annotated_project(project, manager)
    response = manager_api.get(f"/api/projects/{project.pk}/export?format=jsonl")
    assert isinstance(response, StreamingHttpResponse) and response["Cache-Control"] == "no-store"
    lines = [json.loads(x) for x in body(response).splitlines()]
    assert len(lines) == 36 and all(line["split"] is None for line in lines)
    csv_text = body(manager_api.get(f"/api/projects/{project.pk}/export?format=csv")).decode()
    assert len(list(csv.DictReader(io.StringIO(csv_text)))) == 36


# --- permissions matrix ----------------------------------------------------------------------

READ = {"manager": 200, "reviewer": 200, "annotator": 403, "outsider": 403}
MANAGE = {"manager": 200, "reviewer": 403, "annotator": 403, "outsider": 403}


@pytest.mark.parametrize("persona", ["manager", "reviewer", "annotator", "outsider"])
def test_permissions_on_every_endpoint(api, release, personas, persona):
    project = release.project
    api.force_authenticate(personas[persona])
    reads = [
        f"/api/projects/{project.pk}/releases/",
        f"/api/releases/{release.pk}/",
        export_url(release, format="csv", split="test"),
        export_url(release, format="jsonl", fields="id,text"),
        f"/api/releases/{release.pk}/rows",
    ]
    for url in reads:
        assert body_status(api.get(url)) == READ[persona], url
    manages = [
        f"/api/projects/{project.pk}/export?format=jsonl",
        f"/api/projects/{project.pk}/webhook/",
    ]
    for url in manages:
        assert body_status(api.get(url)) == MANAGE[persona], url
    created = api.post(
        f"/api/projects/{project.pk}/releases/", {"known_limitations": "x"}, format="json"
    )
    assert created.status_code == (202 if persona == "manager" else 403)
    webhook = api.put(
        f"/api/projects/{project.pk}/webhook/", {"url": "http://127.0.0.1:9/hook"}, format="json"
    )
    assert webhook.status_code == MANAGE[persona]


def body_status(response) -> int:
    body(response)  # drain streams so cursors close
    return response.status_code


def test_anonymous_requests_are_401(api, release):
    project = release.project
    for url in (
        f"/api/projects/{project.pk}/releases/",
        f"/api/releases/{release.pk}/",
        export_url(release, format="jsonl"),
        f"/api/releases/{release.pk}/rows",
        f"/api/projects/{project.pk}/export?format=csv",
    ):
        assert api.get(url).status_code == 401, url
    created = api.post(f"/api/projects/{project.pk}/releases/", {}, format="json")
    assert created.status_code == 401
    assert Release.objects.filter(project=project).count() == 1


def test_missing_release_is_404(manager_api, release):
    assert manager_api.get("/api/releases/999999/").status_code == 404
