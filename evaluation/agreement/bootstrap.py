"""Item bootstrap confidence intervals for the count-table coefficients.

Resampling unit: the item (annotators are held fixed), n items drawn with replacement, which is
the usual nonparametric bootstrap for reliability coefficients. Interval: the percentile method
(the (1 - c) / 2 and (1 + c) / 2 quantiles of the resampled estimates, Efron & Tibshirani 1993,
ch. 13). Resamples where the coefficient is undefined (e.g. every resampled item in one
category) are dropped and counted in ``n_valid``.

Speed comes from two exact identities, not approximations: every supported coefficient depends
only on how often each distinct count row ("pattern") occurs, and the pattern frequencies of an
item resample follow Multinomial(n, freq / n). So a resample is one multinomial draw over P
patterns (a few hundred for 3 annotators) and every coefficient is a weighted sum, evaluated for
a whole chunk of resamples with matrix products. When patterns barely repeat (P close to n),
items are resampled by index and counted per pattern with one ``np.bincount`` per chunk.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from evaluation.agreement.alpha import AlphaFeatures
from evaluation.agreement.coefficients import AgreementFeatures, FloatArray
from evaluation.agreement.matrix import (
    category_counts,
    compress_counts,
    n_categories_of,
    validate_matrix,
)

STATISTICS: tuple[str, ...] = (
    "krippendorff_alpha",
    "gwet_ac1",
    "fleiss_kappa",
    "percent_agreement",
)
_ALIASES = {"alpha": "krippendorff_alpha", "ac1": "gwet_ac1", "kappa": "fleiss_kappa"}
# Cells per chunk of the (resamples x patterns) weight matrix: ~16 MB of float64.
_MAX_CELLS = 2_000_000


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with its percentile bootstrap interval."""

    statistic: str
    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    n_valid: int
    method: str = "percentile"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes None."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def _canonical(statistic: str) -> str:
    name = _ALIASES.get(statistic, statistic)
    if name not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; use one of {STATISTICS} or a callable")
    return name


def _chunk_evaluator(
    names: Sequence[str], patterns: np.ndarray, k: int, level: str, values: Any
) -> Callable[[FloatArray], dict[str, FloatArray]]:
    """Batch evaluator of all requested statistics; per-pattern features are computed once."""
    agreement = AgreementFeatures(patterns)
    alpha = AlphaFeatures(patterns, level, values) if "krippendorff_alpha" in names else None
    needs_agreement = any(name != "krippendorff_alpha" for name in names)

    def evaluate(weights: FloatArray) -> dict[str, FloatArray]:
        out = agreement.coefficients(weights, k) if needs_agreement else {}
        if alpha is not None:
            out["krippendorff_alpha"] = alpha.alpha(weights)
        return {name: out[name] for name in names}

    return evaluate


def _weight_chunks(
    freq: np.ndarray, inverse: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> Iterator[FloatArray]:
    """Yield (b, P) pattern-frequency matrices, b resamples at a time, n_resamples in all."""
    n, n_patterns = int(freq.sum()), len(freq)
    if n_patterns <= n // 4:
        chunk = max(1, _MAX_CELLS // n_patterns)
        probabilities = freq / n
        for start in range(0, n_resamples, chunk):
            size = min(chunk, n_resamples - start)
            yield rng.multinomial(n, probabilities, size=size).astype(np.float64)
    else:
        chunk = max(1, _MAX_CELLS // n)
        for start in range(0, n_resamples, chunk):
            size = min(chunk, n_resamples - start)
            drawn = inverse[rng.integers(0, n, size=(size, n))]
            drawn += (np.arange(size) * n_patterns)[:, None]
            counted = np.bincount(drawn.ravel(), minlength=size * n_patterns)
            yield counted.reshape(size, n_patterns).astype(np.float64)


def bootstrap_distributions(
    matrix: ArrayLike,
    statistics: Sequence[str] = STATISTICS,
    n_resamples: int = 1000,
    seed: int | np.random.Generator | None = None,
    *,
    level: str = "nominal",
    n_categories: int | None = None,
    values: ArrayLike | None = None,
) -> tuple[dict[str, float], dict[str, FloatArray]]:
    """Point estimates and bootstrap replicates of several coefficients on the SAME resamples.

    Sharing resamples halves the work and keeps the intervals comparable. Returns
    ``(estimates, replicates)`` keyed by canonical statistic name; replicates have shape
    (n_resamples,) and may hold NaN for resamples where the coefficient is undefined.
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    names = [_canonical(s) for s in statistics]
    m = validate_matrix(matrix)
    k = n_categories_of(m, n_categories)
    patterns, freq, inverse = compress_counts(category_counts(m, k))
    evaluate = _chunk_evaluator(names, patterns, k, level, values)
    estimates = {name: float(v[0]) for name, v in evaluate(freq[None, :].astype(float)).items()}
    replicates = {name: np.full(n_resamples, np.nan) for name in names}
    if m.shape[0] == 0:
        return estimates, replicates
    rng = np.random.default_rng(seed)
    done = 0
    for weights in _weight_chunks(freq, inverse, n_resamples, rng):
        for name, values_b in evaluate(weights).items():
            replicates[name][done : done + len(weights)] = values_b
        done += len(weights)
    return estimates, replicates


def percentile_interval(replicates: FloatArray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile-method interval of the finite replicates; (NaN, NaN) if there are none."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def bootstrap_ci(
    matrix: ArrayLike,
    statistic: str | Callable[[np.ndarray], float],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int | np.random.Generator | None = None,
    *,
    level: str = "nominal",
    n_categories: int | None = None,
    values: ArrayLike | None = None,
) -> ConfidenceInterval:
    """Percentile bootstrap CI of a coefficient, resampling items with replacement.

    ``statistic`` is one of ``STATISTICS`` (or the aliases "alpha", "ac1", "kappa"), which take
    the fast vectorised path, or any callable ``f(matrix) -> float``, which is evaluated on each
    resampled matrix in a Python loop (correct but slow; fine for small data). ``level``,
    ``n_categories`` and ``values`` are passed to alpha / AC1 as in the point functions.
    """
    if callable(statistic):
        m = validate_matrix(matrix)
        rng = np.random.default_rng(seed)
        estimate = float(statistic(m))
        n = m.shape[0]
        reps = np.array(
            [float(statistic(m[rng.integers(0, n, n)])) for _ in range(n_resamples)]
            if n
            else [np.nan] * n_resamples
        )
        name = getattr(statistic, "__name__", "statistic")
    else:
        name = _canonical(statistic)
        estimates, replicates = bootstrap_distributions(
            matrix,
            [name],
            n_resamples,
            seed,
            level=level,
            n_categories=n_categories,
            values=values,
        )
        estimate, reps = estimates[name], replicates[name]
    low, high = percentile_interval(reps, confidence)
    if math.isnan(estimate):
        low = high = float("nan")
    return ConfidenceInterval(
        statistic=name,
        estimate=estimate,
        low=low,
        high=high,
        confidence=confidence,
        n_resamples=n_resamples,
        n_valid=int(np.isfinite(reps).sum()),
    )
