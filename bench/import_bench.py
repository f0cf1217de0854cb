"""Benchmark: step-2 imports through the real service, on PostgreSQL.

Run: ``.venv/bin/python bench/import_bench.py [--sizes 100000 1000000] [--articles 1000]``

Reads ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/dmops_bench``), creates
that database if it is missing and migrates it. Generates, in a temporary directory, JSON Lines
files of unique ~120-character sentences and a MediaWiki XML export of synthetic articles
(prose, links, references, tables, ``{{citation needed}}``-style templates) with its bzip2 copy
(dumps are published that way), then imports each into a fresh project through
``source_create_with_upload`` — the service the page and the API call: the upload is stored
under MEDIA_ROOT and the Celery task runs in-process (no broker).

Each workload runs in a fresh subprocess so its ``ru_maxrss`` (peak RSS) is its own; the table
shows that peak and its growth over the process's RSS just before the import started. Time is
the whole service call: storing the upload, parsing, hashing, COPY, the dedupe INSERT and the
commit. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import bz2
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/dmops_bench"
TARGETS = {"jsonl": 50_000, "mediawiki_xml": 2_000}  # rows per second
RSS_LIMIT_MB = 300

_VOCABULARY = (
    "the of and in to a was is for on as by with from that at his an were are which this be "
    "also has or had first its new after but who not they have one their she two her been "
    "other when there all during into school time may years more most only over city some "
    "world would where later up such used many can state about national out known university "
    "united then made these early government since both village team film century river war "
    "north south east west between under part area series members number each population "
    "against family several season around three people well while through music center county "
    "station played however found include church history released album called second based"
)
WORDS = _VOCABULARY.split()


def write_jsonl(path: Path, n: int, seed: int = 7) -> None:
    """*n* unique sentences of about 120 characters, one JSON object per line."""
    rng = random.Random(seed)
    choices, dumps = rng.choices, json.dumps
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            words = " ".join(choices(WORDS, k=24))
            text = f"Record {i} says that {words}"[:118].rstrip() + "."
            f.write(dumps({"id": f"r{i}", "text": text, "lang": "en"}) + "\n")


def _sentence(rng: random.Random, i: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(10, 22))
    words[0] = words[0].capitalize()
    link = rng.randrange(len(words))
    words[link] = f"[[{words[link]}]]"
    return f"{' '.join(words)} in {1800 + i % 220}."


def _article(rng: random.Random, n: int) -> str:
    templates = ("{{citation needed|date=May 2020}}", "{{who}}", "{{clarify|reason=?}}", "{{cn}}")
    out = [f"{{{{Infobox settlement|name=Town {n}|population={rng.randint(1, 10**6)}}}}}"]
    counter = 0
    for section in ("", "History", "Geography", "Economy"):
        if section:
            out.append(f"== {section} ==")
        for _ in range(2):
            sentences = []
            for _ in range(rng.randint(3, 6)):
                counter += 1
                s = _sentence(rng, n * 1000 + counter)
                if rng.random() < 0.3:
                    s += f"<ref>{{{{cite web|url=http://example.org/{counter}|title=S}}}}</ref>"
                if rng.random() < 0.2:
                    s += rng.choice(templates)
                sentences.append(s)
            out.append(" ".join(sentences))
    out.append("== References ==\n{{reflist}}\n[[Category:Towns]]")
    return "\n\n".join(out)


def write_mediawiki_xml(path: Path, articles: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    ns = "http://www.mediawiki.org/xml/export-0.11/"
    with path.open("w", encoding="utf-8") as f:
        f.write(f'<mediawiki xmlns="{ns}" version="0.11" xml:lang="en">\n')
        for n in range(articles):
            text = _article(rng, n).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            f.write(
                f"<page><title>Town {n}</title><ns>0</ns><id>{n + 1}</id><revision>"
                f"<id>{10_000 + n}</id><timestamp>2024-01-01T00:00:00Z</timestamp>"
                f'<text xml:space="preserve">{text}</text></revision></page>\n'
            )
        f.write("</mediawiki>\n")


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


def _cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU of this process, or of *pid* via /proc (a local PostgreSQL backend)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # a remote server: not measurable from here
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _delete_items(connection, table: str, project_id: int) -> None:
    """Delete the bench project's items. Nothing can reference items created seconds ago, so
    where allowed (a superuser) the per-row foreign-key triggers of the eight tables that point
    at items are skipped: they made this cleanup take minutes per million rows."""
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(f"DELETE FROM {table} WHERE project_id = %s", [project_id])
        return
    except DatabaseError:  # not a superuser: the slow, checked way
        pass
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE project_id = %s", [project_id])


def run_one(fmt: str, path: str) -> None:
    """In the subprocess: import *path* into a fresh project, print one JSON result line."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmops.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.db import connection

    from annotation.models import Item
    from annotation.services.sources import source_create_with_upload
    from dmops.services import project_create

    user, _ = get_user_model().objects.get_or_create(username="bench")
    project = project_create(name=f"Import bench {fmt} {time.time():.0f}", created_by=user)
    with connection.cursor() as cursor:  # the backend the import will run on
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_before, server_before = _cpu_seconds(), _cpu_seconds(backend)
    with open(path, "rb") as f:
        start = time.perf_counter()
        _, job = source_create_with_upload(
            project=project,
            by=user,
            uploaded_file=File(f, name=Path(path).name),
            name=Path(path).name,
            format=fmt,
            licence="cc-by-sa-4.0",
            options={"id_field": "id"} if fmt == "jsonl" else {},
        )
        seconds = time.perf_counter() - start
    cpu, server = _cpu_seconds(), _cpu_seconds(backend)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    job.refresh_from_db()
    result = {
        "status": job.status,
        "error": job.error,
        "rows": job.rows_read,
        "items": job.items_created,
        "duplicates": job.duplicates,
        "seconds": seconds,
        "worker_cpu": cpu - cpu_before,
        "server_cpu": None if server is None else server - server_before,
        "peak_mb": peak,
        "growth_mb": peak - rss_before,
    }
    # Leave the shared bench database as we found it (a raw DELETE: the ORM would load every id).
    _delete_items(connection, Item._meta.db_table, project.pk)
    project.delete()
    # Autovacuum lags behind a million deletions; without this the next run inserts into a
    # table and a unique index full of dead entries (6.5 M after a few runs).
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {Item._meta.db_table}")
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--run", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_one(*args.run)
        return 0

    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    ensure_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": os.environ.get("DEBUG", "1"),
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    with tempfile.TemporaryDirectory(prefix="dmops-import-bench-") as tmp:
        env["MEDIA_ROOT"] = str(Path(tmp) / "media")
        workloads = []
        for n in args.sizes:
            path = Path(tmp) / f"sentences-{n}.jsonl"
            write_jsonl(path, n)
            workloads.append(("jsonl", f"JSONL, {n:,} sentences", path))
        xml = Path(tmp) / f"wiki-{args.articles}.xml"
        write_mediawiki_xml(xml, args.articles)
        workloads.append(("mediawiki_xml", f"MediaWiki XML, {args.articles:,} articles", xml))
        # Dumps are published bzip2-compressed; the import decompresses as it reads.
        bz2_path = xml.with_name(xml.name + ".bz2")
        with xml.open("rb") as src, bz2.open(bz2_path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        workloads.append(("mediawiki_xml", "  the same, .xml.bz2", bz2_path))

        header = (
            f"{'workload':34} {'MB':>5} {'rows':>10} {'items':>10} {'time (s)':>8} "
            f"{'rows/s':>8} {'CPU worker':>10} {'CPU db':>7} {'peak RSS':>8} {'growth':>6}"
        )
        print(header)
        print("-" * len(header))
        missed = []
        for fmt, label, path in workloads:
            proc = subprocess.run(
                [sys.executable, __file__, "--run", fmt, str(path)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode:
                print(proc.stdout, proc.stderr, file=sys.stderr)
                return 2
            for line in proc.stderr.splitlines():
                if "Import job" in line:  # the service's phase timings, with LOG_LEVEL=INFO
                    print("   ", line, file=sys.stderr)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if r["status"] != "succeeded":
                print(f"{label}: import {r['status']}: {r['error']}", file=sys.stderr)
                return 2
            rate = r["rows"] / r["seconds"]
            size = path.stat().st_size / 1024**2
            server = "n/a" if r["server_cpu"] is None else f"{r['server_cpu']:6.1f}s"
            print(
                f"{label:34} {size:5.0f} {r['rows']:10,} {r['items']:10,} {r['seconds']:8.1f} "
                f"{rate:8,.0f} {r['worker_cpu']:9.1f}s {server:>7} {r['peak_mb']:6.0f}MB "
                f"{r['growth_mb']:4.0f}MB",
                flush=True,
            )
            if rate < TARGETS[fmt] and (fmt != "jsonl" or r["rows"] >= 1_000_000):
                missed.append(f"{label}: {rate:,.0f} rows/s < {TARGETS[fmt]:,}")
            if r["peak_mb"] >= RSS_LIMIT_MB:
                missed.append(f"{label}: peak RSS {r['peak_mb']:.0f} MB ≥ {RSS_LIMIT_MB}")
    load = os.getloadavg()
    print(
        f"\nload average during the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, "
        f"{os.cpu_count()} CPUs"
    )
    for line in missed:
        print("MISSED", line)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
