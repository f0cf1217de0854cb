"""The queue benchmark's HTTP side: the granian server it starts (as docker-compose.yml runs the
app) and the simulated annotators (threads spread over client processes) looping next-item →
submit against it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench._granian import granian_command
from bench._procstat import with_children

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
WARM_UP_REQUESTS = 5
APP_NAME = "dmops_queue_bench"
SECRET_KEY = "bench-only-secret-key-0123456789abcdefghijklmnop"


def start_server(
    database: str, workers: int, threads: int, pool: int, times_folder: str
) -> subprocess.Popen:
    env = {
        **os.environ,
        # Tagged so the CPU of its backends can be told from other users of the database.
        "DATABASE_URL": f"{PG_URL}/{database}?application_name={APP_NAME}",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        # 0: each server thread keeps its own connection (DB_CONN_MAX_AGE); N: a pool of N
        # per worker process (dmops/settings.py).
        "DB_POOL_MAX_SIZE": str(pool),
        # Keep every thread's connection for the whole run, so the CPU of its backend is
        # counted from start to end (the default recycles them every 60 s).
        "DB_CONN_MAX_AGE": "3600",
        # Pages link hashed static files (DEBUG=0), so they need collectstatic's manifest.
        "STATIC_ROOT": str(ROOT / "var" / "bench-static"),
        # Each worker writes down its time inside the app per request (bench/_timed_wsgi.py).
        "BENCH_SERVER_TIMES": times_folder,
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    # granian binds with SO_REUSEPORT: a server left over from an earlier run would share the
    # port without an error and take its share of the clients.
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", PORT), timeout=1):
        raise SystemExit(f"port {PORT} is in use (a server left running?); set BENCH_PORT")
    command = granian_command(
        port=PORT, workers=workers, threads=threads, app="bench._timed_wsgi:application"
    )
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
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _serving_workers(server) >= workers:
                return server
            time.sleep(0.1)  # polling a starting process: nothing to wait on instead
        log.seek(0)
        raise SystemExit("granian did not start: " + log.read().decode()[-2000:])
    except BaseException:
        stop_server(server)
        raise


def _serving_workers(server: subprocess.Popen) -> int:
    """How many of the server's worker processes answered a burst of fresh connections.

    granian starts its workers one after the other, and a worker accepts connections only once
    it has loaded the app. Clients that connect while the last worker is still loading all land
    on the others, and a keep-alive connection stays where it landed: one run here put all 32 on
    one worker (and ran at one core). So the bench starts its clients only once every worker has
    served a connection. Without ``ss`` that cannot be seen: one answer has to do."""
    probes = [Client({}) for _ in range(8)]
    try:
        if any(probe.call("GET", "/accounts/login/")[0] != 200 for probe in probes):
            return 0
        ports = [probe.sock.getsockname()[1] for probe in probes if probe.sock is not None]
        if shutil.which("ss") is None or not ports:  # or the server does not keep connections
            return sys.maxsize
        owners = server_process_of_client_port(with_children(server.pid))
        return len({owners.get(port) for port in ports} - {None})
    except OSError:
        return 0
    finally:
        for probe in probes:
            probe.close()


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGINT)  # quick shutdown; SIGTERM waits for keep-alives
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    # A master once outlived its workers here; nothing of the server may survive the bench.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)


def server_process_of_client_port(web_pids: list[int]) -> dict[int, int]:
    """The server process holding each client connection, by the client's port. A keep-alive
    connection stays on the worker that accepted it, so how the clients split over the workers
    decides the latency tail."""
    if shutil.which("ss") is None:  # iproute2; without it the latencies are not split
        return {}
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{PORT} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    owners = {}
    for line in out.splitlines():
        match = re.search(r":(\d+)\s+users:.*?pid=(\d+),", line)
        if match and int(match[2]) in web_pids:
            owners[int(match[1])] = int(match[2])
    return owners


class Client:
    """A keep-alive HTTP/1.1 connection with fixed headers, speaking only what the bench needs
    (JSON bodies; answers with a Content-Length or none). The clients share the machine's two
    cores with the server they measure, so they are kept lean: http.client parses every
    response's headers through the email package, which cost the bench half as much CPU per
    annotation again as this."""

    def __init__(self, headers: dict[str, str]) -> None:
        fixed = {"Host": f"127.0.0.1:{PORT}", **headers}
        self.head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        request = (
            f"{method} {path} HTTP/1.1\r\n{self.head}Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data
        if self.sock is not None:
            try:
                self.sock.sendall(request)
                return self._response()
            except (ConnectionError, EOFError):
                # The server closed the idle keep-alive connection; open a new one, retry once.
                self.close()
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(request)
        return self._response()

    def _response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        length, close = 0, False
        for line in header_lines:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise ConnectionError(f"unexpected Transfer-Encoding: {value.decode()}")
            elif name == b"connection" and value == b"close":
                close = True
        while len(self.buffer) < length:
            self._receive()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if close:
            self.close()
        return int(status_line.split(b" ", 2)[1]), body

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buffer += chunk


class Annotator(threading.Thread):
    """One simulated annotator: warms up, waits for the start, labels until the stop time."""

    def __init__(
        self,
        token: str,
        project_id: int,
        go: threading.Event,
        stop_at,
        floor_path: str | None,
        pace: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        # (seconds between the starts of two judgements, this annotator's offset): an open
        # loop at a fixed offered load instead of asking again as soon as an answer is back.
        self.pace = pace
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
        # Each server thread opens its database connection on its first request.
        for _ in range(WARM_UP_REQUESTS):
            self.client.call("GET", f"/api/projects/{self.project_id}/")
        # Which server process serves this annotator is read from this port (queue_bench.py).
        self.port = self.client.sock.getsockname()[1] if self.client.sock else None
        self.ready.set()
        self.go.wait()
        if self.floor_path:
            while time.monotonic() < self.stop_at.value:
                started = time.perf_counter()
                self.client.call("GET", self.floor_path)
                self.next_ms.append((time.perf_counter() - started) * 1000)
            return
        next_path = f"/api/projects/{self.project_id}/next-item/"
        scheduled = time.perf_counter() + (self.pace[1] if self.pace else 0.0)
        while time.monotonic() < self.stop_at.value:
            if self.pace:
                # Paced: wait for this judgement's turn, and count from the turn, not from when
                # the request went out, so a server that falls behind is not let off the time
                # its clients spent waiting to ask (no coordinated omission).
                if (ahead := scheduled - time.perf_counter()) > 0:
                    time.sleep(ahead)
                if time.monotonic() >= self.stop_at.value:
                    break
                started, scheduled = scheduled, scheduled + self.pace[0]
            else:
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
        self.client.close()


def client_process(
    tokens, project_id, ready, go, stop_at, results, floor_path=None, paces=None
) -> None:
    """Runs in its own process, so the clients' Python does not share one GIL. ``paces``: one
    (interval, offset) per token for a paced run."""
    start = threading.Event()
    paces = paces or [None] * len(tokens)
    threads = [
        Annotator(t, project_id, start, stop_at, floor_path, pace)
        for t, pace in zip(tokens, paces, strict=True)
    ]
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
            "next_ms_by_port": {t.port: t.next_ms for t in threads},
        }
    )
