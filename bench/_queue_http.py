"""The queue benchmark's HTTP side: the gunicorn server it starts and the simulated
annotators (threads spread over client processes) looping next-item → submit against it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
WARM_UP_REQUESTS = 5
APP_NAME = "dmops_queue_bench"
SECRET_KEY = "bench-only-secret-key-0123456789abcdefghijklmnop"


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
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        # A file, not a pipe: nobody reads it while the server runs, and a full pipe (the floor
        # run logs a warning per 404) would block the workers.
        stderr=log,
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
    log.seek(0)
    raise SystemExit("gunicorn did not start: " + log.read().decode()[-2000:])


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGINT)  # quick shutdown; SIGTERM waits for keep-alives
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    # A master once outlived its workers here; nothing of the server may survive the bench.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)


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

    def __init__(
        self, token: str, project_id: int, go: threading.Event, stop_at, floor_path: str | None
    ) -> None:
        super().__init__(daemon=True)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.client = Client(headers)
        self.project_id, self.go, self.stop_at = project_id, go, stop_at
        # Set: only GET this path (the request cycle's floor) instead of labelling.
        self.floor_path = floor_path
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
        if self.floor_path:
            while time.monotonic() < self.stop_at.value:
                started = time.perf_counter()
                self.client.call("GET", self.floor_path)
                self.next_ms.append((time.perf_counter() - started) * 1000)
            return
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


def client_process(tokens, project_id, ready, go, stop_at, results, floor_path=None) -> None:
    """Runs in its own process, so the clients' Python does not share one GIL."""
    start = threading.Event()
    threads = [Annotator(t, project_id, start, stop_at, floor_path) for t in tokens]
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
