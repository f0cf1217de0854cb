"""Benchmark: step-12 releases and exports of 1 000 000 items, over HTTP, on PostgreSQL.

Run: ``.venv/bin/python bench/export_bench.py [--items 1000000] [--judgements 3]``

Reads ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/dmops_bench``), creates
that database if it is missing and migrates it. Inserts a project of N items with an
aggregated final label and ``--judgements`` answers each (set-based SQL: INSERT … SELECT from
``generate_series``; reused on the next run), then:

1. creates a release through ``release_create`` (the request: recorded as building, the job
   held back), then runs the build job in-process, timing its phases: rows (one INSERT …
   SELECT, judgements aggregated to JSON per row) + datasheet, then the ten files + publish
   (``--reuse-release`` skips this and uses the last published release);
2. starts granian (one worker, one WSGI thread) on 127.0.0.1 with SECRET_KEY and
   DATABASE_URL set, downloads a built file, then forgets the built files and streams
   ``/api/releases/{id}/export?format=jsonl`` and ``csv`` (every row, from the database
   through a server-side cursor) with token auth, measuring time to first byte, rows/s and
   the worker's RSS (``/proc/<pid>/status`` VmRSS, sampled every 50 ms);
3. builds the Parquet file of all rows in-process (the release build's writer).

Targets: ≥ 100 000 rows/s streamed, worker RSS growth < 100 MB, first byte < 1 s.
Exits 1 if one is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/dmops_bench"
TARGET_RATE, TARGET_RSS_MB, TARGET_TTFB = 100_000, 100, 1.0


def ensure_database(url: str) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    params = {"host": cfg["HOST"] or None, "port": cfg["PORT"] or None, "user": cfg["USER"]}
    if cfg["PASSWORD"]:
        params["password"] = cfg["PASSWORD"]
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cfg["NAME"],))
        if exists.fetchone() is None:
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
            print(f"created database {cfg['NAME']}")


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> None:
    # Linux ≥ 4.0: "5" resets VmHWM (the peak RSS) to the current RSS.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def make_project(n: int, judgements: int):
    """The bench project with ``n`` labelled items (created once, reused afterwards)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from annotation.models import Batch, Item, SchemaVersion, Source
    from dmops.models import Membership, Project
    from dmops.services import project_create, project_update

    users = get_user_model().objects
    manager, _ = users.get_or_create(username="export-bench")
    annotators = [users.get_or_create(username=f"export-bench-a{i}")[0] for i in range(judgements)]
    name = f"Export bench {n} x{judgements}"
    project = Project.objects.filter(name=name).first()
    if project and Item.objects.filter(project=project).count() == n:
        return project, manager
    if project:
        project.delete()
    with transaction.atomic():
        project = project_create(name=name, created_by=manager)
        project_update(
            project=project,
            by=manager,
            goal_business_need="Benchmark exports.",
            goal_intended_use="None: synthetic data.",
        )
        for user in annotators:
            Membership.objects.create(project=project, user=user, role="annotator")
        source = Source.objects.create(
            project=project,
            name="Synthetic wiki",
            format=Source.Format.MEDIAWIKI_XML,
            licence=Source.Licence.CC_BY_SA_4,
            origin_url="https://en.wikipedia.org/",
        )
        schema = SchemaVersion.objects.create(
            project=project, number=1, task_type="binary", is_final=True
        )
        batch = Batch.objects.create(
            project=project, name="main", overlap=judgements, schema_version=schema
        )
        with connection.cursor() as cur:
            t = time.perf_counter()
            cur.execute(
                "INSERT INTO annotation_item (project_id, source_id, position, external_id, text,"
                " raw_text, text_hash, metadata, weak_labels, is_active, dropped_by, created_at,"
                " final_label, final_confidence, final_rule)"
                " SELECT %s, %s, g, '', s, s, md5(s), jsonb_build_object('page_title',"
                " 'Page ' || (g / 40), 'revision_id', (100000000 + g / 40)::text,"
                " 'sentence_index', g %% 40), '[]', true, '', now(),"
                " CASE WHEN g %% 3 = 0 THEN '\"no\"'::jsonb ELSE '\"yes\"'::jsonb END,"
                " 0.5 + (g %% 50) / 100.0, 'aggregated'"
                " FROM (SELECT g, 'Sentence ' || g || ' of the synthetic article says that the"
                " river was first crossed in the early century, citation needed.' AS s"
                " FROM generate_series(1, %s) g) x",
                [project.pk, source.pk, n],
            )
            cur.execute(
                "INSERT INTO annotation_batchitem (batch_id, item_id, proposed_label, priority,"
                " submitted_count, is_complete, is_dropped)"
                " SELECT %s, id, '', 0, %s, true, false FROM annotation_item"
                " WHERE project_id = %s",
                [batch.pk, judgements, project.pk],
            )
            ids = ", ".join(str(u.pk) for u in annotators)
            cur.execute(
                "INSERT INTO annotation_annotation (batch_item_id, batch_id, item_id, annotator_id,"
                " answer, seconds_spent, created_at)"
                " SELECT bi.id, bi.batch_id, bi.item_id, u.id,"
                " CASE WHEN (bi.item_id + u.id) %% 4 = 0"
                " THEN '\"no\"'::jsonb ELSE '\"yes\"'::jsonb END, 3.5, now()"
                f" FROM annotation_batchitem bi CROSS JOIN (SELECT unnest(ARRAY[{ids}]) AS id) u"
                " WHERE bi.batch_id = %s ORDER BY bi.item_id, u.id",
                [batch.pk],
            )
            print(
                f"inserted {n:,} items, {n * judgements:,} judgements in "
                f"{time.perf_counter() - t:.1f} s"
            )
    with connection.cursor() as cur:
        cur.execute(
            "ANALYZE annotation_item; ANALYZE annotation_annotation; ANALYZE annotation_batchitem"
        )
    return project, manager


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, int, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from bench._granian import granian_command  # the repository root is on sys.path by now

    cmd = granian_command(port=port, workers=1, threads=1)
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:  # an answer, not just an open port: granian listens before its worker is up
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/accounts/login/")
            conn.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return server, port, int(children[0])


class Sampler:
    """Samples a process's VmRSS every 50 ms while a download runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.running = pid, 0.0, True
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)

    def __enter__(self):
        self.start = rss_mb(self.pid)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()
        self.end = rss_mb(self.pid)
        self.peak = max(self.peak, self.end)


def download(port: int, path: str, token: str) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    start = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    assert response.status == 200, (response.status, response.read()[:500])
    first = response.read1(1 << 20)
    ttfb = time.perf_counter() - start
    size, lines = len(first), first.count(b"\n")
    while chunk := response.read1(1 << 20):
        size += len(chunk)
        lines += chunk.count(b"\n")
    conn.close()
    return {"seconds": time.perf_counter() - start, "ttfb": ttfb, "bytes": size, "lines": lines}


def create_and_build(project, manager, build, release_create, results):
    """A release of every item through the real path: the request records it (build job held
    back), then the job's two phases are timed apart: rows + datasheet, files + publish."""
    with mock.patch("annotation.celery_tasks.build_release.delay"):
        t = time.perf_counter()
        release = release_create(
            project=project,
            by=manager,
            include_judgements=True,
            known_limitations="Synthetic text.",
            seed="bench",
        )
        seconds = time.perf_counter() - t
    results.append(("request: validate, record as building", 1, seconds, 1 / seconds, 0, ""))
    reset_peak()
    base = rss_mb()
    t = time.perf_counter()
    assert build._rows_written(release.pk)
    seconds = time.perf_counter() - t
    release.refresh_from_db()
    n = release.row_count
    peak = rss_mb("self", "VmHWM") - base
    results.append(("job: rows INSERT … SELECT + datasheet", n, seconds, n / seconds, peak, ""))
    reset_peak()
    base = rss_mb()
    t = time.perf_counter()
    release = build.release_build(release_id=release.pk)
    seconds = time.perf_counter() - t
    assert release.status == "published", release.error
    peak = rss_mb("self", "VmHWM") - base
    results.append(
        ("job: 10 files (3 splits x jsonl/csv/parquet + LS)", n, seconds, n / seconds, peak, "")
    )
    return release


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--judgements", type=int, default=3)
    parser.add_argument(
        "--reuse-release",
        action="store_true",
        help="stream the last published release of the bench project instead of making one",
    )
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    ensure_database(url)
    media = tempfile.mkdtemp(prefix="dmops-export-bench-")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DEBUG": "0",
        "CELERY_BROKER_URL": "",
        "MEDIA_ROOT": media,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmops.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from rest_framework.authtoken.models import Token

    from annotation.exports import get_exporter
    from annotation.models import Release
    from annotation.selectors.releases import release_row_dicts
    from annotation.services import release_build as build
    from annotation.services.releases import release_create, release_fields

    project, manager = make_project(args.items, args.judgements)
    token = Token.objects.get_or_create(user=manager)[0].key
    results = []

    release = None
    if args.reuse_release:
        release = (
            Release.objects.filter(project=project, status=Release.Status.PUBLISHED)
            .order_by("-number")
            .first()
        )
    if release is None:
        release = create_and_build(project, manager, build, release_create, results)
    n = release.row_count

    server, port, worker = start_server(env)
    try:
        download(port, f"/api/releases/{release.pk}/", token)  # warm the worker
        if release.files.exists():
            built = release.files.get(format="jsonl", split="train")
            with Sampler(worker) as rss:
                got = download(
                    port, f"/api/releases/{release.pk}/export?format=jsonl&split=train", token
                )
            results.append(
                (
                    f"HTTP built file jsonl/train ({got['bytes'] / 2**20:.0f} MiB)",
                    built.row_count,
                    got["seconds"],
                    built.row_count / got["seconds"],
                    rss.peak - rss.start,
                    f"TTFB {got['ttfb']:.3f} s",
                )
            )
        # Forget the built files (bench only), so the full-field export streams from the
        # database as any ``fields=`` choice does: the path the rows/s target is about.
        release.files.all().delete()
        for fmt, fields in (("jsonl", ""), ("csv", ""), ("jsonl", "id,text,label,split")):
            query = f"format={fmt}" + (f"&fields={fields}" if fields else "")
            with Sampler(worker) as rss:
                got = download(port, f"/api/releases/{release.pk}/export?{query}", token)
            rows = got["lines"] - (1 if fmt == "csv" else 0)
            assert rows == n, (fmt, rows, n)
            results.append(
                (
                    f"HTTP stream {fmt}{' ' + fields if fields else ''} from DB"
                    f" ({got['bytes'] / 2**20:.0f} MiB)",
                    rows,
                    got["seconds"],
                    rows / got["seconds"],
                    rss.peak - rss.start,
                    f"worker {rss.start:.0f}→{rss.end:.0f} MB, TTFB {got['ttfb']:.3f} s",
                )
            )

        reset_peak()
        base = rss_mb()
        path = Path(media) / "bench-all.parquet"
        t = time.perf_counter()
        written = get_exporter("parquet").write_file(
            release_row_dicts(release, fmt="parquet", fields=release_fields(release)),
            path,
            release_fields(release),
        )
        seconds = time.perf_counter() - t
        results.append(
            (
                f"Parquet build, all rows ({written.byte_count / 2**20:.0f} MiB)",
                written.row_count,
                seconds,
                written.row_count / seconds,
                rss_mb("self", "VmHWM") - base,
                "bench process",
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(media, ignore_errors=True)  # the built files: ~1.3 GB per run

    print()
    print(f"{'workload':<54} {'N':>10} {'time':>8} {'rate rows/s':>12} {'peak +MB':>9}  note")
    for name, rows, seconds, rate, peak, note in results:
        print(f"{name:<54} {rows:>10,} {seconds:>7.1f}s {rate:>12,.0f} {peak:>9.0f}  {note}")
    streamed = [r for r in results if r[0].startswith("HTTP stream")]
    ok = all(r[3] >= TARGET_RATE and r[4] < TARGET_RSS_MB for r in streamed)
    ttfb_ok = all(float(r[5].split("TTFB ")[1].split()[0]) < TARGET_TTFB for r in streamed)
    print(
        f"\ntargets: ≥ {TARGET_RATE:,} rows/s, RSS growth < {TARGET_RSS_MB} MB, "
        f"first byte < {TARGET_TTFB} s: {'met' if ok and ttfb_ok else 'MISSED'}"
    )
    return 0 if ok and ttfb_ok else 1


if __name__ == "__main__":
    sys.exit(main())
