"""Geometry of the pilot history chart: agreement pilot by pilot, drawn as inline SVG.

Hand-written SVG rather than a plotting library: a few dozen shapes, no heavy import on the
request path, text that stays selectable and readable by screen readers (the template gives the
SVG a title and description, and the table beside it holds every number).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from evaluation.models import RELIABLE_ALPHA, AgreementReport
from evaluation.selectors import agreement as selectors

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 52
# The two series sit either side of the pilot's tick so their intervals do not overlap.
OFFSET = {"alpha": -7, "ac1": 7}


@dataclass
class Point:
    series: str
    x: float
    y: float
    low: float | None
    high: float | None
    value: float
    ci: tuple[float, float] | None


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    bottom_edge: int = HEIGHT - BOTTOM
    points: list[Point] = field(default_factory=list)
    lines: dict[str, str] = field(default_factory=dict)
    ticks_x: list[dict[str, Any]] = field(default_factory=list)
    ticks_y: list[dict[str, float]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def series_points(self, series: str) -> list[Point]:
        return [p for p in self.points if p.series == series]

    @property
    def alpha_points(self) -> list[Point]:
        return self.series_points("alpha")

    @property
    def ac1_points(self) -> list[Point]:
        return self.series_points("ac1")


def pilot_chart(history: list[AgreementReport], threshold: float) -> Chart | None:
    """The chart of every completed pilot, or None when there is none (the page says so)."""
    rows = selectors.pilot_history_rows(history)
    if not rows:
        return None
    chart = Chart(rows=rows)
    values = [threshold, RELIABLE_ALPHA, 1.0, 0.0]
    for row in rows:
        for name in ("alpha", "ac1"):
            if row[name] is not None:
                values.append(row[name])
            if row[f"{name}_ci"]:
                values.append(row[f"{name}_ci"][0])
    low = max(-1.0, math.floor(min(values) * 5) / 5)
    span = 1.0 - low

    def y_of(v: float) -> float:
        return round(chart.bottom_edge - (v - low) / span * (chart.bottom_edge - chart.top), 1)

    step = (chart.right_edge - chart.left) / len(rows)
    for i, row in enumerate(rows):
        centre = chart.left + (i + 0.5) * step
        label = f"Pilot {row['n']}"
        chart.ticks_x.append({"x": round(centre, 1), "label": label, "guideline": row["guideline"]})
        for series in ("alpha", "ac1"):
            value, ci = row[series], row[f"{series}_ci"]
            if value is None:
                continue
            chart.points.append(
                Point(
                    series=series,
                    x=round(centre + OFFSET[series], 1),
                    y=y_of(value),
                    low=y_of(ci[0]) if ci else None,
                    high=y_of(ci[1]) if ci else None,
                    value=value,
                    ci=ci,
                )
            )
    for series in ("alpha", "ac1"):
        chart.lines[series] = " ".join(f"{p.x},{p.y}" for p in chart.series_points(series))
    tick = low
    while tick <= 1.0 + 1e-9:
        chart.ticks_y.append({"y": y_of(tick), "label": round(tick, 1)})
        tick += 0.2
    chart.rules = [
        {"y": y_of(threshold), "label": f"threshold {threshold:.3f}", "kind": "threshold"},
        {"y": y_of(RELIABLE_ALPHA), "label": f"reliable {RELIABLE_ALPHA}", "kind": "reliable"},
    ]
    return chart
