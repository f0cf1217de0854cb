"""Queue benchmark: 1 000 000 items, overlap 3, 32 annotators labelling over HTTP for 60 s.

    .venv/bin/python bench/queue_bench.py [--items 1000000] [--annotators 32] [--seconds 60]

Needs PostgreSQL at PG_URL (default postgres://postgres@127.0.0.1:5432). It creates the
database ``dmops_bench`` if missing, migrates it, seeds a fresh project with bulk SQL, starts
``gunicorn dmops.wsgi -w 4 --threads 8`` on 127.0.0.1, and runs one thread per annotator, each
with its own user, token and keep-alive ``http.client`` connection, looping next-item → submit.
At the end it prints throughput, latency percentiles, EXPLAIN of the pick, checks the queue's
invariants with SQL, and prints a table (workload, N, time, rate, peak memory).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "dmops_bench"
PORT = int(os.environ.get("BENCH_PORT", "8765"))
WARM_UP_REQUESTS = 5
APP_NAME = "dmops_queue_bench"
SECRET_KEY = "bench-only-secret-key-0123456789abcdefghijklmnop"


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG_URL}/{DB_NAME}"
    os.environ["SECRET_KEY"] = SECRET_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmops.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed_items(project, n: int) -> float:
    """Insert ``n`` items with one INSERT … SELECT generate_series; returns seconds."""
    from django.db import connection

    from annotation.models import ImportJob, Item, Source

    source = Source.objects.create(project=project, name="bench", format="text", licence="cc0-1.0")
    job = ImportJob.objects.create(project=project, source=source, file_name="bench.txt")
    # column -> (SQL expression over g, its parameters)
    expressions = {
        "project_id": ("%s", [project.pk]),
        "source_id": ("%s", [source.pk]),
        "import_job_id": ("%s", [job.pk]),
        "position": ("g", []),
        "text": (
            "'Benchmark sentence ' || g || ' about a bridge built in ' || (1800 + mod(g, 200))",
            [],
        ),
        "raw_text": ("'Benchmark sentence ' || g", []),
        "text_hash": ("md5(%s || ':' || g)", [str(project.pk)]),
        "created_at": ("now()", []),
    }
    columns, selects, params = [], [], []
    for field in Item._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in expressions:
            sql, values = expressions[field.column]
        elif field.null:
            sql, values = "NULL", []
        else:  # columns added later get their Python default
            sql, values = "%s", [field.get_db_prep_save(field.get_default(), connection)]
        selects.append(sql)
        params.extend(values)
    sql = (
        f"INSERT INTO {Item._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(selects)} FROM generate_series(1, %s) g"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, n])
    return time.perf_counter() - started


def seed(n_items: int, n_annotators: int, overlap: int):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from annotation.models import Item, SchemaVersion
    from annotation.services import labelling
    from dmops import services
    from dmops.models import Membership

    User = get_user_model()
    stamp = time.strftime("%Y%m%d%H%M%S")
    manager, _ = User.objects.get_or_create(username="bench-manager")
    project = services.project_create(name=f"Queue bench {stamp}", created_by=manager)
    SchemaVersion.objects.create(
        project=project, number=1, task_type="binary", question="Needs a citation?", is_final=True
    )
    timings = {"seed items": seed_items(project, n_items)}
    with connection.cursor() as cursor:
        # Fresh rows have no statistics yet; without them the planner picks a nested loop.
        cursor.execute("ANALYZE annotation_item")
    started = time.perf_counter()
    batch = labelling.batch_create(
        project=project,
        by=manager,
        name="main",
        items=Item.objects.filter(project=project),
        overlap=overlap,
        is_open=True,
    )
    timings["batch items"] = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table in ("annotation_item", "annotation_batchitem", "annotation_lease"):
            cursor.execute(f"ANALYZE {table}")
    tokens = []
    for i in range(n_annotators):
        user, _ = User.objects.get_or_create(username=f"bench-annotator-{i}")
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return project, batch, tokens, timings


def explain_pick(project, batch) -> str:
    """EXPLAIN ANALYZE of the queue's pick for a fresh annotator, rolled back."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from annotation import queue

    user = get_user_model().objects.get(username="bench-annotator-0")
    plan = ""
    try:
        with transaction.atomic():
            qs = queue.candidates(batch, user, timezone.now(), revisit=False)
            qs = qs.select_for_update(skip_locked=True, of=("self",)).values_list("pk")[:1]
            plan = qs.explain(analyze=True, buffers=True)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    return plan


def start_server() -> subprocess.Popen:
    env = {
        **os.environ,
        # Tagged so the CPU of its backends can be told from other users of the database.
        "DATABASE_URL": f"{PG_URL}/{DB_NAME}?application_name={APP_NAME}",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "dmops.wsgi", "-w", "4", "--threads", "8", "-b", f"127.0.0.1:{PORT}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            conn.request("GET", "/api/schema/")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start: " + server.stderr.read().decode()[-2000:])


def with_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(p) for p in children.read_text().split())] if children.exists() else [pid]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes, from /proc/<pid>/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def backend_pids() -> list[int]:
    """PostgreSQL backends serving the bench database (gunicorn keeps its connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [DB_NAME, APP_NAME],
        )
        return [row[0] for row in cursor.fetchall()]


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process and its children (the gunicorn workers), in MB."""
    total = 0
    for p in with_children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


class Annotator(threading.Thread):
    """One simulated annotator. Warms up (each gunicorn worker imports the URLconf and the
    apps on its first request), waits for the others, then labels until the clock runs out."""

    def __init__(self, token: str, project_id: int, start: threading.Barrier, clock: dict) -> None:
        super().__init__(daemon=True)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.project_id, self.start_line, self.clock = project_id, start, clock
        self.next_ms: list[float] = []
        self.submit_ms: list[float] = []
        self.errors: list[str] = []
        self.empty = 0

    def call(self, conn, method: str, path: str, body: dict | None = None):
        data = json.dumps(body) if body is not None else None
        try:
            conn.request(method, path, body=data, headers=self.headers)
            response = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # gunicorn closed the idle keep-alive connection; open a new one and retry once.
            conn.close()
            conn.request(method, path, body=data, headers=self.headers)
            response = conn.getresponse()
        return response.status, response.read()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        for _ in range(WARM_UP_REQUESTS):
            self.call(conn, "GET", f"/api/projects/{self.project_id}/")
        self.start_line.wait()
        while time.monotonic() < self.clock["stop_at"]:
            started = time.perf_counter()
            status, body = self.call(conn, "GET", f"/api/projects/{self.project_id}/next-item/")
            self.next_ms.append((time.perf_counter() - started) * 1000)
            if status == 204:
                self.empty += 1
                time.sleep(0.05)
                continue
            if status != 200:
                self.errors.append(f"next-item {status} {body[:200]!r}")
                continue
            item = json.loads(body)
            started = time.perf_counter()
            status, body = self.call(
                conn,
                "POST",
                f"/api/items/{item['batch_item_id']}/annotations/",
                {"lease": item["lease_id"], "answer": "yes", "seconds_spent": 1.0},
            )
            self.submit_ms.append((time.perf_counter() - started) * 1000)
            if status != 201:
                self.errors.append(f"submit {status} {body[:200]!r}")
        conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


INVARIANTS = {
    "items over overlap": """
        SELECT count(*) FROM annotation_batchitem bi JOIN annotation_batch b ON b.id = bi.batch_id
        WHERE bi.batch_id = %(batch)s AND bi.submitted_count > b.overlap""",
    "counter != annotations": """
        SELECT count(*) FROM annotation_batchitem bi
        WHERE bi.batch_id = %(batch)s AND bi.submitted_count <> (
            SELECT count(*) FROM annotation_annotation a WHERE a.batch_item_id = bi.id)""",
    "complete flag wrong": """
        SELECT count(*) FROM annotation_batchitem bi JOIN annotation_batch b ON b.id = bi.batch_id
        WHERE bi.batch_id = %(batch)s AND bi.is_complete <> (bi.submitted_count >= b.overlap)""",
    "annotator twice on an item": """
        SELECT count(*) FROM (SELECT l.batch_item_id, l.annotator_id FROM annotation_lease l
            JOIN annotation_batchitem bi ON bi.id = l.batch_item_id
            WHERE bi.batch_id = %(batch)s GROUP BY 1, 2 HAVING count(*) > 1) d""",
    "submitted + live > overlap": """
        SELECT count(*) FROM annotation_batchitem bi JOIN annotation_batch b ON b.id = bi.batch_id
        WHERE bi.batch_id = %(batch)s AND bi.submitted_count + (
            SELECT count(*) FROM annotation_lease l WHERE l.batch_item_id = bi.id
            AND l.state = 'active' AND l.expires_at > now()) > b.overlap""",
}


def check_invariants(batch_id: int) -> dict[str, int]:
    from django.db import connection

    results = {}
    with connection.cursor() as cursor:
        for name, sql in INVARIANTS.items():
            cursor.execute(sql, {"batch": batch_id})
            results[name] = cursor.fetchone()[0]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    ensure_database()
    setup_django()
    project, batch, tokens, timings = seed(args.items, args.annotators, args.overlap)
    print(
        f"seeded {args.items:,} items in {timings['seed items']:.1f} s; "
        f"batch in {timings['batch items']:.1f} s"
    )
    print("\nEXPLAIN ANALYZE of the pick (fresh annotator):\n" + explain_pick(project, batch))

    server = start_server()
    try:
        clock: dict = {}

        def start_clock() -> None:
            # After warm-up, so booting workers and first-request imports are not counted.
            clock["web_cpu"] = cpu_seconds(with_children(server.pid))
            clock["db_cpu"] = cpu_seconds(backend_pids())
            clock["started"] = time.perf_counter()
            clock["stop_at"] = time.monotonic() + args.seconds

        start = threading.Barrier(len(tokens), action=start_clock)
        workers = [Annotator(t, project.pk, start, clock) for t in tokens]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - clock["started"]
        server_peak = peak_rss_mb(server.pid)
        # CPU spent per annotation by the web tier and by PostgreSQL during the timed run:
        # a measure of cost that does not depend on how busy the machine was.
        web_cpu = cpu_seconds(with_children(server.pid)) - clock["web_cpu"]
        db_cpu = cpu_seconds(backend_pids()) - clock["db_cpu"]
        load = os.getloadavg()
    finally:
        server.send_signal(signal.SIGINT)  # quick shutdown; SIGTERM waits for keep-alives
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    next_ms = [v for w in workers for v in w.next_ms]
    submit_ms = [v for w in workers for v in w.submit_ms]
    errors = [e for w in workers for e in w.errors]
    done = len(submit_ms) - len(errors)
    print(
        f"\n{done:,} annotations in {elapsed:.1f} s = {done / elapsed:,.0f} annotations/s; "
        f"{len(errors)} errors; {sum(w.empty for w in workers)} empty answers"
    )
    for name, values in (("next-item", next_ms), ("submit", submit_ms)):
        print(
            f"{name:>9}: p50 {percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f}"
            f" ms  p99 {percentile(values, 99):6.1f} ms  (n={len(values):,})"
        )
    print(
        f"CPU per annotation: web {web_cpu / max(done, 1) * 1000:.1f} ms, PostgreSQL "
        f"{db_cpu / max(done, 1) * 1000:.1f} ms; {os.cpu_count()} CPUs, load average at the "
        f"end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
    )
    for error in errors[:5]:
        print("  error:", error)

    invariants = check_invariants(batch.pk)
    print("\ninvariants (0 = holds):", invariants)
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'workload':<34}{'N':>12}{'time':>10}{'rate':>16}{'peak memory':>16}")
    rows = [
        ("seed items (INSERT…SELECT)", args.items, timings["seed items"], "items/s", client_peak),
        ("batch items (INSERT…SELECT)", args.items, timings["batch items"], "rows/s", client_peak),
        (
            f"label over HTTP ({args.annotators} annotators)",
            done,
            elapsed,
            "annotations/s",
            server_peak,
        ),
    ]
    for name, n, seconds, unit, memory in rows:
        print(
            f"{name:<34}{n:>12,}{seconds:>9.1f}s{n / seconds:>10,.0f} {unit:<6}{memory:>10.0f} MB"
        )
    print("(peak memory: this process for seeding; gunicorn master + workers, summed, for HTTP)")
    if any(invariants.values()) or errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
