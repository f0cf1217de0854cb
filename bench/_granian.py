"""The command line of the WSGI server the HTTP benchmarks start: granian, as docker-compose.yml
runs the app, quiet and bound to 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path


def granian_command(
    *, port: int, workers: int, threads: int, app: str = "dmops.wsgi:application"
) -> list[str]:
    return [
        str(Path(sys.executable).with_name("granian")),
        "--interface",
        "wsgi",
        "--workers",
        str(workers),
        # WSGI runs on these; HTTP is handled by granian's own (Rust) threads.
        "--blocking-threads",
        str(threads),
        "--backlog",
        "256",
        "--no-access-log",
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        app,
    ]
