"""The app as the queue bench serves it: ``dmops.wsgi.application``, with the time each request
spends inside it written down (bench/_latency.py reads it).

With ``BENCH_SERVER_TIMES`` set to a folder, each worker process appends one record per request
to ``<folder>/<pid>``: when it started, how long the application took until it handed back the
body, and which endpoint it was. One small ``write`` per request: about a microsecond, where a
request costs the worker ~0.8 ms of CPU."""

from __future__ import annotations

import os
import time

from bench._latency import ENDPOINTS, RECORD
from dmops.wsgi import application as dmops_application

_folder = os.environ.get("BENCH_SERVER_TIMES")
_file: int | None = None
_NEXT_ITEM, _SUBMIT, _OTHER = (ENDPOINTS.index(name) for name in ("next-item", "submit", "other"))


def _endpoint(environ) -> int:
    path = environ.get("PATH_INFO", "")
    if path.endswith("/next-item/"):
        return _NEXT_ITEM
    if path.endswith("/annotations/") and environ.get("REQUEST_METHOD") == "POST":
        return _SUBMIT
    return _OTHER


def application(environ, start_response):
    global _file
    started = time.monotonic()
    try:
        return dmops_application(environ, start_response)
    finally:
        if _folder:
            if _file is None:  # opened in the worker process, which granian starts by itself
                _file = os.open(f"{_folder}/{os.getpid()}", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            duration = time.monotonic() - started
            os.write(_file, RECORD.pack(started, duration, _endpoint(environ)))
