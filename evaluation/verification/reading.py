"""Reading a learning curve: is more data of this kind worth annotating?

Kept apart from :mod:`.train` (which re-exports these names) because it is pure logic on
stored points: the service can re-read a saved curve without importing scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CEILING_F1",
    "FLAT_PER_DOUBLING",
    "RISING_PER_DOUBLING",
    "LearningCurvePoint",
    "learning_curve_trend",
    "read_learning_curve",
]

# Learning-curve reading thresholds, in macro-F1 gained per doubling of the training set,
# measured between the two largest sizes (the end of the curve is what predicts the next
# batch of data). A doubling that buys >= 2 F1 points is worth annotating for; < 0.5 points
# is within what re-labelling or guideline fixes usually buy more cheaply.
RISING_PER_DOUBLING = 0.02
FLAT_PER_DOUBLING = 0.005
# Above this the curve cannot rise meaningfully whatever the slope.
CEILING_F1 = 0.98

Trend = Literal["rising", "slowing", "flat", "ceiling"]


@dataclass
class LearningCurvePoint:
    """Macro-F1 of the probe trained on ``fraction`` of each CV training fold."""

    fraction: float
    n: int  # mean number of training examples per fit
    mean_macro_f1: float
    std_macro_f1: float  # across seeds
    seed_scores: list[float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (numpy scalars become Python numbers)."""
        return {
            "fraction": float(self.fraction),
            "n": int(self.n),
            "mean_macro_f1": float(self.mean_macro_f1),
            "std_macro_f1": float(self.std_macro_f1),
            "seed_scores": [float(v) for v in self.seed_scores],
        }


def _as_point(p: LearningCurvePoint | dict[str, Any]) -> LearningCurvePoint:
    return p if isinstance(p, LearningCurvePoint) else LearningCurvePoint(**p)


def learning_curve_trend(points: Sequence[LearningCurvePoint | dict[str, Any]]) -> Trend:
    """Machine-readable verdict behind :func:`read_learning_curve`."""
    return _trend(points)[0]


def _trend(points: Sequence[LearningCurvePoint | dict[str, Any]]) -> tuple[Trend, dict]:
    pts = sorted((_as_point(p) for p in points), key=lambda p: p.n)
    if len(pts) < 2 or pts[-1].n <= pts[-2].n:
        raise ValueError("need at least two learning-curve points of different sizes")
    prev, last = pts[-2], pts[-1]
    gain = last.mean_macro_f1 - prev.mean_macro_f1
    per_doubling = gain / math.log2(last.n / prev.n)
    # Seed-to-seed spread: a gain inside it is not evidence of a rise.
    noise = math.hypot(last.std_macro_f1, prev.std_macro_f1)
    facts = {"prev": prev, "last": last, "gain": gain, "per_doubling": per_doubling, "noise": noise}
    if last.mean_macro_f1 >= CEILING_F1:
        return "ceiling", facts
    if per_doubling >= RISING_PER_DOUBLING and gain > noise:
        return "rising", facts
    if per_doubling < FLAT_PER_DOUBLING or gain <= noise:
        return "flat", facts
    return "slowing", facts


def read_learning_curve(points: Sequence[LearningCurvePoint | dict[str, Any]]) -> str:
    """Plain-language reading of a learning curve, stating the thresholds it used."""
    trend, f = _trend(points)
    prev, last = f["prev"], f["last"]
    head = (
        f"Macro-F1 went from {prev.mean_macro_f1:.3f} with {prev.n} training examples to "
        f"{last.mean_macro_f1:.3f} with {last.n} ({f['per_doubling']:+.3f} per doubling of "
        f"the data; seed-to-seed spread ±{f['noise']:.3f})."
    )
    rules = (
        f"Rules: 'still rising' if the last step gains ≥ {RISING_PER_DOUBLING:.3f} F1 per "
        f"doubling and more than the seed spread; 'flat' if < {FLAT_PER_DOUBLING:.3f} per "
        f"doubling or within the spread; at or above {CEILING_F1:.2f} the model is at its "
        f"ceiling."
    )
    verdict = {
        "rising": "Still rising: more data of this kind is likely to help.",
        "slowing": "Rising slowly: more data of this kind helps a little, with diminishing "
        "returns; label quality and guideline fixes may pay off more.",
        "flat": "Flat: more data of this kind will not help much; look at label quality "
        "(suspicious labels, confused label pairs) or the guideline instead.",
        "ceiling": "Flat at the ceiling: the task is already learned; more data of this "
        "kind will not help.",
    }[trend]
    return f"{verdict} {head} {rules}"
