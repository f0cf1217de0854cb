"""Queue benchmark: 1 000 000 items, overlap 3, 32 annotators labelling over HTTP for 60 s.

    .venv/bin/python bench/queue_bench.py [--items 1000000] [--annotators 32] [--seconds 60]
        [--workers 2] [--threads 2] [--client-processes 4] [--database dmops_bench] [--fresh]
        [--paced-rate 300]

Needs PostgreSQL at PG_URL (default postgres://postgres@127.0.0.1:5432). It creates the
database if missing and migrates it. A project seeded by an earlier run with the same number
of items and the same overlap is reused (``--fresh`` seeds a new one): its leases and
annotations are deleted and its counters reset, so every run starts from an untouched batch.
Then it starts granian on 127.0.0.1 as docker-compose.yml does, serving
``dmops.wsgi.application`` through ``bench/_timed_wsgi.py`` (which writes down each request's
time inside the app), and runs the annotators as threads spread over a few client processes,
each annotator with its own user, token and keep-alive connection, looping next-item → submit.
At the end it prints throughput, latency percentiles (the clients', and the app's own), CPU per
annotation of the web tier, PostgreSQL, the clients and everything else on the machine, EXPLAIN
of the pick, the queue's invariants checked with SQL, and a table (workload, N, time, rate, peak
memory). If the workbench page exists it also times one annotator reloading it with a session
cookie. Last, the same clients ask for a
page that does not exist for ``--floor-seconds``: Django's request cycle without the app, the
floor under what any endpoint of this stack can do on the machine.

``--paced-rate R`` adds a run at a fixed offered load after the workbench: the same annotators
start R judgements per second between them, each on its own schedule, and next-item's latency
is counted from the scheduled start (what an annotator who clicks on time waits), where the
main run's closed loop asks again the instant an answer is back and so measures the server at
saturation.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The repository root is on sys.path from here.
from bench._latency import print_latencies, print_server_times  # noqa: E402
from bench._procstat import (  # noqa: E402
    cpu_seconds,
    machine_busy_seconds,
    peak_rss_mb,
    with_children,
)
from bench._queue_http import (  # noqa: E402
    APP_NAME,
    PG_URL,
    SECRET_KEY,
    Client,
    client_process,
    server_process_of_client_port,
    start_server,
    stop_server,
)
from bench._queue_seed import check_invariants, seed  # noqa: E402

WORKBENCH_REQUESTS = 300
FLOOR_PATH = "/api/bench-floor-no-such-endpoint/"


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


def backend_pids(database: str) -> list[int]:
    """PostgreSQL backends serving the bench database (the server keeps its connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [database, APP_NAME],
        )
        return [row[0] for row in cursor.fetchall()]


def next_ms_by_worker(collected: list[dict], owners: dict[int, int]) -> list[tuple]:
    """(clients, next-item latencies) per server process, the one holding most clients first."""
    by_pid: dict[int, list[list[float]]] = {}
    for result in collected:
        for port, values in result["next_ms_by_port"].items():
            by_pid.setdefault(owners.get(port, 0), []).append(values)
    groups = sorted(by_pid.values(), key=len, reverse=True)
    return [(len(g), [v for client in g for v in client]) for g in groups]


def run_annotators(
    tokens, project_id, seconds, n_processes, database, server, floor_path=None, rate=0.0
) -> dict:
    """``rate`` > 0: the annotators together start ``rate`` judgements per second, evenly
    spread (each every len(tokens) / rate seconds, offset from the others); 0: each asks again
    as soon as its answer is back."""
    from django.db import connections

    connections.close_all()  # the forked clients must not share the parent's connection
    context = multiprocessing.get_context("fork")
    ready, results = context.Queue(), context.Queue()
    go = context.Event()
    stop_at = context.Value("d", float("inf"))
    interval = len(tokens) / rate if rate else 0.0
    paces = [(interval, k * interval / len(tokens)) if rate else None for k in range(len(tokens))]
    processes = [
        context.Process(
            target=client_process,
            args=(
                tokens[i::n_processes],
                project_id,
                ready,
                go,
                stop_at,
                results,
                floor_path,
                paces[i::n_processes],
            ),
        )
        for i in range(n_processes)
        if tokens[i::n_processes]
    ]
    for process in processes:
        process.start()
    client_pids = [ready.get(timeout=120) for _ in processes]
    # The clock starts after warm-up, so worker boot and first-request imports are not counted.
    web_pids = with_children(server.pid)
    owners = server_process_of_client_port(web_pids)
    before = {
        "web": cpu_seconds(web_pids),
        "db": cpu_seconds(backend_pids(database)),
        "clients": cpu_seconds(client_pids),
        "machine": machine_busy_seconds(),
    }
    window_start = time.monotonic()
    stop_at.value = window_start + seconds
    go.set()
    collected = [results.get(timeout=seconds + 120) for _ in processes]
    elapsed = time.monotonic() - window_start
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
        "window": (window_start, stop_at.value),  # on time.monotonic(), as bench/_timed_wsgi.py
        "cpu": cpu,
        "next_ms": [v for c in collected for v in c["next_ms"]],
        "submit_ms": [v for c in collected for v in c["submit_ms"]],
        "errors": [e for c in collected for e in c["errors"]],
        "empty": sum(c["empty"] for c in collected),
        "server_peak": peak_rss_mb(web_pids),
        "next_ms_by_worker": next_ms_by_worker(collected, owners),
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


def annotations_done(run: dict) -> int:
    """Submits that were answered 201: every timed submit but the failed ones."""
    return len(run["submit_ms"]) - sum(e.startswith("submit") for e in run["errors"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--threads", type=int, default=2, help="WSGI threads per server worker")
    parser.add_argument("--pool", type=int, default=0, help="DB_POOL_MAX_SIZE for the server")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--database", default=os.environ.get("BENCH_DB", "dmops_bench"))
    parser.add_argument("--fresh", action="store_true", help="seed a new project")
    parser.add_argument("--floor-seconds", type=float, default=10, help="the 404 floor run")
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=0,
        help="then label for --seconds more at this offered load (annotations/s), each "
        "annotator on a fixed schedule; 0 skips it",
    )
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
    if "earlier round" in timings:
        print(f"seeded the earlier round (closed batch) in {timings['earlier round']:.1f} s")
    print("\nEXPLAIN ANALYZE of the pick (fresh annotator):\n" + explain_pick(batch))

    times = tempfile.TemporaryDirectory(prefix="dmops-bench-times-")  # removed at exit
    times_folder = times.name
    server = start_server(args.database, args.workers, args.threads, args.pool, times_folder)
    try:
        run = run_annotators(
            tokens, project.pk, args.seconds, args.client_processes, args.database, server
        )
        load_after = os.getloadavg()
        workbench = workbench_latencies(project.pk, with_children(server.pid))
        paced = args.paced_rate and run_annotators(
            tokens, project.pk, args.seconds, args.client_processes, args.database, server,
            rate=args.paced_rate,
        )  # fmt: skip
        # The same clients, only asking for a page that does not exist: what Django's request
        # cycle (middleware, URL resolution, a 404) costs on this machine, without the app.
        floor = args.floor_seconds and run_annotators(
            tokens, project.pk, args.floor_seconds, args.client_processes, args.database,
            server, floor_path=FLOOR_PATH,
        )  # fmt: skip
        server_peak_end = floor_peak = peak_rss_mb(with_children(server.pid))
    finally:
        stop_server(server)

    errors, elapsed, cpu = run["errors"], run["elapsed"], run["cpu"]
    done = annotations_done(run)
    print(
        f"\ngranian --interface wsgi --workers {args.workers} --blocking-threads {args.threads}, "
        f"DB_POOL_MAX_SIZE={args.pool}; "
        f"{args.annotators} annotators in {args.client_processes} client processes"
    )
    print(
        f"{done:,} annotations in {elapsed:.1f} s = {done / elapsed:,.1f} annotations/s; "
        f"{len(errors)} errors; {run['empty']} empty answers"
    )
    print_latencies("next-item", run["next_ms"])
    # Each server process's share: its clients wait in proportion to how many it holds.
    for clients, values in run["next_ms_by_worker"]:
        print_latencies(f"{clients} clients", values)
    print_latencies("submit", run["submit_ms"])
    print_server_times(times_folder, run)
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

    if paced:
        paced_done = annotations_done(paced)
        print(
            f"\npaced at {args.paced_rate:,.0f} annotations/s offered (each annotator starts a "
            f"judgement every {args.annotators / args.paced_rate * 1000:.0f} ms; latency counted "
            f"from that start): {paced_done / paced['elapsed']:,.1f} annotations/s served; "
            f"{len(paced['errors'])} errors"
        )
        print_latencies("next-item", paced["next_ms"])
        print_latencies("submit", paced["submit_ms"])
        print_server_times(times_folder, paced)
        paced_per = 1000 / max(paced_done, 1)
        print(
            "CPU per annotation (ms): "
            + ", ".join(f"{k} {paced['cpu'][k] * paced_per:.2f}" for k in ("web", "db", "clients"))
        )
        errors = errors + paced["errors"]

    if floor:
        floor_n, floor_cpu = len(floor["next_ms"]), floor["cpu"]
        print(
            f"request floor: {floor_n / floor['elapsed']:,.0f} requests/s of GET {FLOOR_PATH} "
            f"(404); CPU per request (ms): web {floor_cpu['web'] * 1000 / floor_n:.2f}, "
            f"clients {floor_cpu['clients'] * 1000 / floor_n:.2f}"
        )

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
    if paced:
        rows.append(
            (
                f"label over HTTP, paced at {args.paced_rate:,.0f}/s",
                paced_done,
                paced["elapsed"],
                "annotations/s",
                run["server_peak"],
            )
        )
    if floor:
        rows.append(
            ("request floor: 404 over HTTP", floor_n, floor["elapsed"], "requests/s", floor_peak)
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
    print("(peak memory: this process for seeding; granian and its workers, summed, for HTTP)")
    if any(invariants.values()) or errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
