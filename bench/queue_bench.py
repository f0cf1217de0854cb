"""Queue benchmark: 1 000 000 items, overlap 3, 32 annotators labelling over HTTP for 60 s.

    .venv/bin/python bench/queue_bench.py [--items 1000000] [--annotators 32] [--seconds 60]
        [--workers 2] [--threads 4] [--client-processes 4] [--database dmops_bench] [--fresh]

Needs PostgreSQL at PG_URL (default postgres://postgres@127.0.0.1:5432). It creates the
database if missing and migrates it. A project seeded by an earlier run with the same number
of items and the same overlap is reused (``--fresh`` seeds a new one): its leases and
annotations are deleted and its counters reset, so every run starts from an untouched batch.
Then it starts ``gunicorn dmops.wsgi`` (gthread, ``--preload``) on 127.0.0.1 and runs the
annotators as threads spread over a few client processes, each annotator with its own user,
token and keep-alive ``http.client`` connection, looping next-item → submit. At the end it
prints throughput, latency percentiles, CPU per annotation of the web tier, PostgreSQL, the
clients and everything else on the machine, EXPLAIN of the pick, the queue's invariants checked
with SQL, and a table (workload, N, time, rate, peak memory). If the workbench page exists it
also times one annotator reloading it with a session cookie.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
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
PORT = int(os.environ.get("BENCH_PORT", "8765"))
WARM_UP_REQUESTS = 5
WORKBENCH_REQUESTS = 300
APP_NAME = "dmops_queue_bench"
PROJECT_PREFIX = "Queue bench"
SECRET_KEY = "bench-only-secret-key-0123456789abcdefghijklmnop"


def ensure_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(database: str) -> None:
    os.environ["DATABASE_URL"] = f"{PG_URL}/{database}"
    os.environ["SECRET_KEY"] = SECRET_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmops.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- seeding --------------------------------------------------------------------------------


def seed_items(project, n: int) -> float:
    """Insert ``n`` items with one INSERT … SELECT generate_series; returns seconds. The rows
    are made by PostgreSQL itself, so nothing crosses the wire; the time is index upkeep."""
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


def analyze(*tables: str, vacuum: bool = False) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{'VACUUM (ANALYZE)' if vacuum else 'ANALYZE'} {table}")


def reusable_batch(n_items: int, overlap: int):
    """The main batch of an earlier bench project of the same shape, or None."""
    from django.db.models import Count

    from annotation.models import Batch

    return (
        Batch.objects.filter(
            project__name__startswith=PROJECT_PREFIX, name="main", overlap=overlap, is_open=True
        )
        .annotate(n=Count("batch_items"))
        .filter(n=n_items)
        .select_related("project")
        .order_by("-pk")
        .first()
    )


def reset_batch(batch) -> float:
    """Forget every lease and annotation of the batch, so the run starts as on fresh data."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("annotation_annotation", "annotation_lease"):
            cursor.execute(
                f"DELETE FROM {table} t USING annotation_batchitem bi "
                "WHERE bi.id = t.batch_item_id AND bi.batch_id = %s",
                [batch.pk],
            )
        cursor.execute(
            "UPDATE annotation_batchitem SET submitted_count = 0, is_complete = false, "
            "is_dropped = false WHERE batch_id = %s "
            "AND (submitted_count <> 0 OR is_complete OR is_dropped)",
            [batch.pk],
        )
    # Dead rows left by the previous run would otherwise sit at the head of the queue index.
    analyze("annotation_batchitem", "annotation_lease", "annotation_annotation", vacuum=True)
    return time.perf_counter() - started


def annotators(project, n: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from dmops.models import Membership

    User = get_user_model()
    tokens = []
    for i in range(n):
        user, _ = User.objects.get_or_create(username=f"bench-annotator-{i}")
        Membership.objects.get_or_create(
            project=project, user=user, defaults={"role": Membership.Role.ANNOTATOR}
        )
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return tokens


def seed(n_items: int, n_annotators: int, overlap: int, fresh: bool):
    from django.contrib.auth import get_user_model

    from annotation.models import Item, SchemaVersion
    from annotation.services import labelling
    from dmops import services

    batch = None if fresh else reusable_batch(n_items, overlap)
    if batch is not None:
        timings = {"reset": reset_batch(batch)}
        return batch.project, batch, annotators(batch.project, n_annotators), timings
    manager, _ = get_user_model().objects.get_or_create(username="bench-manager")
    stamp = time.strftime("%Y%m%d%H%M%S")
    project = services.project_create(name=f"{PROJECT_PREFIX} {stamp}", created_by=manager)
    SchemaVersion.objects.create(
        project=project, number=1, task_type="binary", question="Needs a citation?", is_final=True
    )
    timings = {"seed items": seed_items(project, n_items)}
    # Fresh rows have no statistics yet; without them the planner picks a nested loop.
    analyze("annotation_item")
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
    analyze("annotation_item", "annotation_batchitem", "annotation_lease")
    return project, batch, annotators(project, n_annotators), timings


def explain_pick(batch) -> str:
    """EXPLAIN ANALYZE of the queue's pick for a fresh annotator, rolled back."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from annotation import queue

    user = get_user_model().objects.get(username="bench-annotator-0")
    sql, params = queue.pick_sql(
        batch_id=batch.pk,
        annotator_id=user.pk,
        overlap=batch.overlap,
        now=timezone.now(),
        revisit=False,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


# --- the server and what it costs -----------------------------------------------------------


def start_server(database: str, workers: int, threads: int, pool: int) -> subprocess.Popen:
    env = {
        **os.environ,
        # Tagged so the CPU of its backends can be told from other users of the database.
        "DATABASE_URL": f"{PG_URL}/{database}?application_name={APP_NAME}",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        # 0: each gunicorn thread keeps its own connection (DB_CONN_MAX_AGE); N: a pool of N
        # per worker process (dmops/settings.py).
        "DB_POOL_MAX_SIZE": str(pool),
        # Keep every thread's connection for the whole run, so the CPU of its backend is
        # counted from start to end (the default recycles them every 60 s).
        "DB_CONN_MAX_AGE": "3600",
        # Pages link hashed static files (DEBUG=0), so they need collectstatic's manifest.
        "STATIC_ROOT": str(ROOT / "var" / "bench-static"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn),
        "dmops.wsgi",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        # Imports happen once in the master; workers fork with them (shared pages, fast boot).
        "--preload",
        "--keep-alive",
        "75",
        "--backlog",
        "256",
        "-b",
        f"127.0.0.1:{PORT}",
    ]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so stop_server can end all of it
    )
    for _ in range(150):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            conn.request("GET", "/accounts/login/")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start: " + server.stderr.read().decode()[-2000:])


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGINT)  # quick shutdown; SIGTERM waits for keep-alives
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    # A master once outlived its workers here; nothing of the server may survive the bench.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)


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


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle, summed over cores (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def backend_pids(database: str) -> list[int]:
    """PostgreSQL backends serving the bench database (gunicorn keeps its connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [database, APP_NAME],
        )
        return [row[0] for row in cursor.fetchall()]


def peak_rss_mb(pids: list[int]) -> float:
    """VmHWM of the processes, summed, in MB (shared pages of forked workers count in each)."""
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


# --- the clients ----------------------------------------------------------------------------


class Client:
    """A keep-alive HTTP connection with fixed headers."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body) if body is not None else None
        try:
            self.conn.request(method, path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server closed the idle keep-alive connection; open a new one, retry once.
            self.conn.close()
            self.conn.request(method, path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        return response.status, response.read()


class Annotator(threading.Thread):
    """One simulated annotator: warms up, waits for the start, labels until the stop time."""

    def __init__(self, token: str, project_id: int, go: threading.Event, stop_at) -> None:
        super().__init__(daemon=True)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.client = Client(headers)
        self.project_id, self.go, self.stop_at = project_id, go, stop_at
        self.ready = threading.Event()
        self.next_ms: list[float] = []
        self.submit_ms: list[float] = []
        self.errors: list[str] = []
        self.empty = 0

    def run(self) -> None:
        # Each gunicorn thread opens its database connection on its first request.
        for _ in range(WARM_UP_REQUESTS):
            self.client.call("GET", f"/api/projects/{self.project_id}/")
        self.ready.set()
        self.go.wait()
        next_path = f"/api/projects/{self.project_id}/next-item/"
        while time.monotonic() < self.stop_at.value:
            started = time.perf_counter()
            status, body = self.client.call("GET", next_path)
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
            status, body = self.client.call(
                "POST",
                f"/api/items/{item['batch_item_id']}/annotations/",
                {"lease": item["lease_id"], "answer": "yes", "seconds_spent": 1.0},
            )
            self.submit_ms.append((time.perf_counter() - started) * 1000)
            if status != 201:
                self.errors.append(f"submit {status} {body[:200]!r}")
        self.client.conn.close()


def client_process(tokens, project_id, ready, go, stop_at, results) -> None:
    """Runs in its own process, so the clients' Python does not share one GIL."""
    start = threading.Event()
    threads = [Annotator(t, project_id, start, stop_at) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.ready.wait()
    ready.put(os.getpid())
    go.wait()
    start.set()
    for thread in threads:
        thread.join()
    results.put(
        {
            "next_ms": [v for t in threads for v in t.next_ms],
            "submit_ms": [v for t in threads for v in t.submit_ms],
            "errors": [e for t in threads for e in t.errors],
            "empty": sum(t.empty for t in threads),
        }
    )


def run_annotators(tokens, project_id, seconds, n_processes, database, server) -> dict:
    from django.db import connections

    connections.close_all()  # the forked clients must not share the parent's connection
    context = multiprocessing.get_context("fork")
    ready, results = context.Queue(), context.Queue()
    go = context.Event()
    stop_at = context.Value("d", float("inf"))
    shares = [tokens[i::n_processes] for i in range(n_processes)]
    processes = [
        context.Process(
            target=client_process, args=(share, project_id, ready, go, stop_at, results)
        )
        for share in shares
        if share
    ]
    for process in processes:
        process.start()
    client_pids = [ready.get(timeout=120) for _ in processes]
    # The clock starts after warm-up, so worker boot and first-request imports are not counted.
    web_pids = with_children(server.pid)
    before = {
        "web": cpu_seconds(web_pids),
        "db": cpu_seconds(backend_pids(database)),
        "clients": cpu_seconds(client_pids),
        "machine": machine_busy_seconds(),
    }
    started = time.perf_counter()
    stop_at.value = time.monotonic() + seconds
    go.set()
    collected = [results.get(timeout=seconds + 120) for _ in processes]
    elapsed = time.perf_counter() - started
    after = {
        "web": cpu_seconds(web_pids),
        "db": cpu_seconds(backend_pids(database)),
        "clients": cpu_seconds(client_pids),
        "machine": machine_busy_seconds(),
    }
    for process in processes:
        process.join()
    cpu = {k: after[k] - before[k] for k in before}
    cpu["other"] = cpu["machine"] - cpu["web"] - cpu["db"] - cpu["clients"]
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "next_ms": [v for c in collected for v in c["next_ms"]],
        "submit_ms": [v for c in collected for v in c["submit_ms"]],
        "errors": [e for c in collected for e in c["errors"]],
        "empty": sum(c["empty"] for c in collected),
        "server_peak": peak_rss_mb(web_pids),
    }


def workbench_latencies(project_id: int, web_pids: list[int]) -> tuple[list[float], float] | None:
    """One annotator reloading the workbench page with a session cookie: the latencies and
    the web tier's CPU ms per page (its server time, without queueing). None if the page is
    not there (404) or answers anything but 200."""
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore
    from django.urls import reverse

    user = get_user_model().objects.get(username="bench-annotator-0")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    client = Client({"Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"})
    path = reverse("workbench", args=[project_id])
    status, _ = client.call("GET", path)
    if status != 200:
        print(f"\nworkbench {path}: HTTP {status}; not measured")
        return None
    latencies = []
    cpu_before = cpu_seconds(web_pids)
    for _ in range(WORKBENCH_REQUESTS):
        started = time.perf_counter()
        status, _ = client.call("GET", path)
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"workbench answered {status}")
    return latencies, (cpu_seconds(web_pids) - cpu_before) * 1000 / WORKBENCH_REQUESTS


# --- checks and report ----------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
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
    "annotations on items with a zero counter": """
        SELECT count(*) FROM annotation_annotation a
        JOIN annotation_batchitem bi ON bi.id = a.batch_item_id
        WHERE bi.batch_id = %(batch)s AND bi.submitted_count = 0""",
    "complete flag wrong": """
        SELECT count(*) FROM annotation_batchitem bi JOIN annotation_batch b ON b.id = bi.batch_id
        WHERE bi.batch_id = %(batch)s AND bi.is_complete <> (bi.submitted_count >= b.overlap)""",
    "annotator twice on an item (leases)": """
        SELECT count(*) FROM (SELECT l.batch_item_id, l.annotator_id FROM annotation_lease l
            JOIN annotation_batchitem bi ON bi.id = l.batch_item_id
            WHERE bi.batch_id = %(batch)s GROUP BY 1, 2 HAVING count(*) > 1) d""",
    "annotator twice on an item (annotations)": """
        SELECT count(*) FROM (SELECT a.batch_item_id, a.annotator_id FROM annotation_annotation a
            JOIN annotation_batchitem bi ON bi.id = a.batch_item_id
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


def print_latencies(name: str, values: list[float]) -> None:
    print(
        f"{name:>10}: p50 {percentile(values, 50):7.1f} ms  p95 {percentile(values, 95):7.1f} ms"
        f"  p99 {percentile(values, 99):7.1f} ms  max {max(values, default=float('nan')):7.1f}"
        f" ms  (n={len(values):,})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--pool", type=int, default=0, help="DB_POOL_MAX_SIZE for the server")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--database", default=os.environ.get("BENCH_DB", "dmops_bench"))
    parser.add_argument("--fresh", action="store_true", help="seed a new project")
    args = parser.parse_args()

    ensure_database(args.database)
    setup_django(args.database)
    load_before = os.getloadavg()
    project, batch, tokens, timings = seed(args.items, args.annotators, args.overlap, args.fresh)
    if "reset" in timings:
        print(
            f"reused project {project.pk} ({args.items:,} items); reset in {timings['reset']:.1f} s"
        )
    else:
        print(
            f"seeded {args.items:,} items in {timings['seed items']:.1f} s; "
            f"batch in {timings['batch items']:.1f} s"
        )
    print("\nEXPLAIN ANALYZE of the pick (fresh annotator):\n" + explain_pick(batch))

    server = start_server(args.database, args.workers, args.threads, args.pool)
    try:
        run = run_annotators(
            tokens, project.pk, args.seconds, args.client_processes, args.database, server
        )
        load_after = os.getloadavg()
        workbench = workbench_latencies(project.pk, with_children(server.pid))
        server_peak_end = peak_rss_mb(with_children(server.pid))
    finally:
        stop_server(server)

    errors, elapsed, cpu = run["errors"], run["elapsed"], run["cpu"]
    done = len(run["submit_ms"]) - sum(e.startswith("submit") for e in errors)
    print(
        f"\ngunicorn gthread --workers {args.workers} --threads {args.threads} --preload, "
        f"DB_POOL_MAX_SIZE={args.pool}; "
        f"{args.annotators} annotators in {args.client_processes} client processes"
    )
    print(
        f"{done:,} annotations in {elapsed:.1f} s = {done / elapsed:,.1f} annotations/s; "
        f"{len(errors)} errors; {run['empty']} empty answers"
    )
    print_latencies("next-item", run["next_ms"])
    print_latencies("submit", run["submit_ms"])
    per = 1000 / max(done, 1)
    print(
        "CPU per annotation (ms): "
        + ", ".join(f"{k} {cpu[k] * per:.2f}" for k in ("web", "db", "clients", "other"))
        + f"; CPU share of the run (cores busy, of {os.cpu_count()}): "
        + ", ".join(f"{k} {cpu[k] / elapsed:.2f}" for k in ("web", "db", "clients", "other"))
    )
    print(
        f"load average before seeding {load_before[0]:.1f}; at the end of the run "
        f"{load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f}"
    )
    for error in errors[:5]:
        print("  error:", error)
    workbench_ms = workbench[0] if workbench else None
    if workbench:
        print_latencies("workbench", workbench_ms)
        print(f"workbench: web CPU {workbench[1]:.1f} ms per page")

    invariants = check_invariants(batch.pk)
    print("\ninvariants (0 = holds):", invariants)
    bench_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'workload':<38}{'N':>12}{'time':>10}{'rate':>24}{'peak memory':>16}")
    rows = []
    if "reset" not in timings:
        rows += [
            (
                "seed items (INSERT…SELECT)",
                args.items,
                timings["seed items"],
                "items/s",
                bench_peak,
            ),
            (
                "batch items (INSERT…SELECT)",
                args.items,
                timings["batch items"],
                "rows/s",
                bench_peak,
            ),
        ]
    rows.append(
        (
            f"label over HTTP ({args.annotators} annotators)",
            done,
            elapsed,
            "annotations/s",
            run["server_peak"],
        )
    )
    if workbench_ms:
        total = sum(workbench_ms) / 1000
        rows.append(
            ("workbench page, 1 annotator", len(workbench_ms), total, "pages/s", server_peak_end)
        )
    for name, n, seconds, unit, memory in rows:
        print(
            f"{name:<38}{n:>12,}{seconds:>9.1f}s{n / seconds:>10,.1f} {unit:<13}{memory:>10.0f} MB"
        )
    print("(peak memory: this process for seeding; gunicorn master + workers, summed, for HTTP)")
    if any(invariants.values()) or errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
