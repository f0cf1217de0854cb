"""The labelling hot path in one process, without HTTP or concurrency: next-item → submit
through Django's WSGI handler, the queue bench's annotators taking turns (each with their own
token) on the queue bench's project. Run ``queue_bench.py`` once first: it seeds the project.

    .venv/bin/python bench/hot_path_inprocess.py [--annotations 3000] [--database dmops_bench]

Prints the web tier's CPU per annotation (process time, so the database's share is not in it)
and a table (workload, N, time, rate, peak memory). The batch is reset first, as the queue bench
does, so every run starts from the same queue.

CPU time drifts with the machine as much as the HTTP bench's throughput (up to 30 % within
minutes here); the instructions the loop executes do not. To compare two versions of the code
on a noisy machine, count them with callgrind at two sizes and subtract, which leaves the loop
without Django's start-up:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/hot_path_inprocess.py --annotations 300   # then 600
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._queue_http import PG_URL, SECRET_KEY  # noqa: E402
from bench._queue_seed import annotators, reset_batch, reusable_batch  # noqa: E402

WARM_UP = 200  # annotations before the clock starts: connections, prepared statements, caches


def wsgi_caller(application, host: str):
    def call(method: str, path: str, token: str, body: dict | None = None) -> tuple[str, bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": host,
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": host,
            "REMOTE_ADDR": host,
            "HTTP_AUTHORIZATION": f"Token {token}",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
        }
        status = []
        body_out = b"".join(application(environ, lambda s, headers, exc=None: status.append(s)))
        return status[0], body_out

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", type=int, default=3000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--database", default=os.environ.get("BENCH_DB", "dmops_bench"))
    args = parser.parse_args()

    host = "127.0.0.1"
    os.environ.update(
        DATABASE_URL=f"{PG_URL}/{args.database}",
        SECRET_KEY=SECRET_KEY,
        DEBUG="0",
        ALLOWED_HOSTS=host,
        LOG_LEVEL="WARNING",
        STATIC_ROOT=str(ROOT / "var" / "bench-static"),  # collected by queue_bench.py
        DJANGO_SETTINGS_MODULE="dmops.settings",
    )
    from dmops.wsgi import application  # as the server loads it (gc.freeze included)

    batch = reusable_batch(args.items, args.overlap)
    if batch is None:
        raise SystemExit(f"no queue bench project in {args.database}: run queue_bench.py first")
    reset_batch(batch)
    tokens = itertools.cycle(annotators(batch.project, args.annotators))
    call = wsgi_caller(application, host)
    next_path = f"/api/projects/{batch.project_id}/next-item/"

    def annotate() -> None:
        token = next(tokens)
        status, body = call("GET", next_path, token)
        if not status.startswith("200"):
            raise SystemExit(f"next-item: {status} {body[:200]!r}")
        item = json.loads(body)
        submit = {"lease": item["lease_id"], "answer": "yes", "seconds_spent": 1.0}
        submit_path = f"/api/items/{item['batch_item_id']}/annotations/"
        status, body = call("POST", submit_path, token, submit)
        if not status.startswith("201"):
            raise SystemExit(f"submit: {status} {body[:200]!r}")

    for _ in range(WARM_UP):
        annotate()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.annotations):
        annotate()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"web CPU per annotation: {cpu * 1000 / args.annotations:.2f} ms")
    print(f"\n{'workload':<38}{'N':>12}{'time':>10}{'rate':>24}{'peak memory':>16}")
    rate = args.annotations / wall
    print(
        f"{'next-item → submit, in-process':<38}{args.annotations:>12,}{wall:>9.1f}s"
        f"{rate:>10,.1f} {'annotations/s':<13}{peak:>10.0f} MB"
    )


if __name__ == "__main__":
    main()
