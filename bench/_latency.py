"""Latency reporting for the queue bench: percentiles, and the time each request spent inside
the application, which the server's workers write down (bench/_timed_wsgi.py) so that the
latency a client sees can be split into the server's own time and the wait in front of it
(granian's queue for a WSGI thread, the kernel's for the CPU)."""

from __future__ import annotations

import statistics
import struct
from pathlib import Path

# One record per request: started (s, on time.monotonic(): CLOCK_MONOTONIC, the same clock in
# every process of the machine), duration (s), endpoint (an index of ENDPOINTS).
RECORD = struct.Struct("ddd")
ENDPOINTS = ("next-item", "submit", "other")


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def print_latencies(name: str, values: list[float]) -> None:
    print(
        f"{name:>10}: p50 {percentile(values, 50):7.1f} ms  p95 {percentile(values, 95):7.1f} ms"
        f"  p99 {percentile(values, 99):7.1f} ms  max {max(values, default=float('nan')):7.1f}"
        f" ms  (n={len(values):,})"
    )


def server_times(folder: str, start: float, end: float) -> dict[str, list[float]]:
    """Milliseconds inside the application, by endpoint, of the requests that started in
    [start, end) on ``time.monotonic()``, from every worker's file in ``folder``."""
    times: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    for path in Path(folder).iterdir():
        data = path.read_bytes()
        # A worker may be appending as this reads: a record is whole or not there yet.
        data = data[: len(data) - len(data) % RECORD.size]
        for started, duration, endpoint in RECORD.iter_unpack(data):
            if start <= started < end:
                times[ENDPOINTS[int(endpoint)]].append(duration * 1000)
    return times


def print_server_times(folder: str, run: dict) -> None:
    """The time inside the application of a run's requests (``run["window"]``): what is left of
    a client's latency is the wait in front of it."""
    for endpoint, values in server_times(folder, *run["window"]).items():
        if endpoint != "other" and values:
            print_latencies(f"{endpoint} in app", values)
