"""Krippendorff's alpha through the coincidence matrix (Krippendorff 2011, "Computing
Krippendorff's Alpha-Reliability", Annenberg School for Communication, Departmental Papers 43).

For an item u with m_u >= 2 pairable values and category counts N_u, its coincidences are
``(N_u N_u^T - diag(N_u)) / (m_u - 1)``; their sum over items is the coincidence matrix o, with
marginals n_c and total n (the number of pairable values). Then

    alpha = 1 - (n - 1) * sum_ck o_ck delta2_ck / sum_ck n_c n_k delta2_ck

with the metric delta2 of the level of measurement: nominal (c != k), ordinal (squared distance
between mid-ranks of the marginal distribution), interval ((v_c - v_k)^2), ratio
(((v_c - v_k) / (v_c + v_k))^2). Items with one value are not pairable and drop out, which is
how alpha handles missing data.

o is never materialised per item: the observed-disagreement sum is a per-item scalar for a fixed
metric, and for the ordinal metric (which moves with the marginals) a quadratic form that needs
only per-item projections. That is what makes the item bootstrap a handful of matrix products.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from evaluation.agreement.coefficients import FloatArray, _div
from evaluation.agreement.matrix import category_counts, compress_counts, n_categories_of

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")


def _metric_values(level: str, n_categories: int, values: ArrayLike | None) -> FloatArray:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    if values is None:
        return np.arange(n_categories, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (n_categories,):
        raise ValueError(f"values must give one number per category ({n_categories})")
    if level == "ratio" and (v < 0).any():
        raise ValueError("ratio values must be >= 0")
    return v


def _squared_distances(level: str, v: FloatArray) -> FloatArray:
    diff = v[:, None] - v[None, :]
    if level == "nominal":
        return 1.0 - np.eye(len(v))
    if level == "ratio":
        total = v[:, None] + v[None, :]
        # 0 and 0 are the same value: distance 0, not 0/0.
        return np.where(total == 0, 0.0, _div(diff, total) ** 2)
    return diff**2


class AlphaFeatures:
    """Per-pattern terms of alpha for one level of measurement, computed once.

    Keeps the pairable patterns' counts and 1 / (m_u - 1), and for the fixed metrics each
    pattern's observed-disagreement contribution d_u = N_u^T delta2 N_u / (m_u - 1), so a batch
    of weightings costs a few matrix products.
    """

    def __init__(
        self, patterns: np.ndarray, level: str = "nominal", values: ArrayLike | None = None
    ) -> None:
        k = patterns.shape[1]
        v = _metric_values(level, k, values)
        m = patterns.sum(axis=1)
        self.level = level
        self.pairable = np.flatnonzero(m >= 2)
        self.counts = patterns[self.pairable].astype(np.float64)
        self.inv = 1.0 / (m[self.pairable] - 1.0)
        self.delta2 = _squared_distances(level, v)
        if level == "nominal":
            # sum over c != k of N_c N_k = m^2 - sum_c N_c^2: O(K) per pattern, not O(K^2).
            self.d_item = (m[self.pairable] ** 2 - (self.counts**2).sum(axis=1)) * self.inv
        elif level != "ordinal":
            quad = np.einsum("pc,ck,pk->p", self.counts, self.delta2, self.counts)
            self.d_item = quad * self.inv

    def alpha(self, weights: FloatArray) -> FloatArray:
        """Krippendorff's alpha for each row of ``weights`` (pattern frequencies), shape (B,)."""
        w = weights[:, self.pairable]
        n_c = w @ self.counts  # coincidence marginals, (B, K)
        n = n_c.sum(axis=1)
        if self.level == "ordinal":
            # Mid-ranks of the (resampled) marginals; delta_ck = mid_k - mid_c.
            mid = np.cumsum(n_c, axis=1) - n_c / 2.0
            w_inv = w * self.inv
            # sum_ck o_ck (mid_k - mid_c)^2 = 2 sum_c n_c mid_c^2 - 2 mid^T o mid, and
            # mid^T o_u mid = ((N_u . mid)^2 - sum_c N_uc mid_c^2) / (m_u - 1).
            proj = self.counts @ mid.T  # (P, B)
            quad = np.einsum("bp,pb->b", w_inv, proj**2)
            quad -= ((w_inv @ self.counts) * mid**2).sum(axis=1)
            observed = 2.0 * (n_c * mid**2).sum(axis=1) - 2.0 * quad
            diff2 = (mid[:, None, :] - mid[:, :, None]) ** 2
            expected = np.einsum("bc,bck,bk->b", n_c, diff2, n_c)
        else:
            observed = w @ self.d_item
            if self.level == "nominal":
                expected = n**2 - (n_c**2).sum(axis=1)
            else:
                expected = np.einsum("bc,ck,bk->b", n_c, self.delta2, n_c)
        # Guard against round-off making a zero expected disagreement look positive.
        expected = np.where(expected > 1e-12 * np.maximum(n, 1.0) ** 2, expected, 0.0)
        return 1.0 - _div((n - 1.0) * observed, expected)


def coincidence_matrix(matrix: ArrayLike, n_categories: int | None = None) -> FloatArray:
    """Krippendorff's coincidence matrix o (K, K); row sums are the pairable-value counts n_c."""
    k = n_categories_of(matrix, n_categories)
    counts = category_counts(matrix, k).astype(np.float64)
    m = counts.sum(axis=1)
    keep = m >= 2
    counts, inv = counts[keep], 1.0 / (m[keep] - 1.0)
    return (counts * inv[:, None]).T @ counts - np.diag(inv @ counts)


def krippendorff_alpha(
    matrix: ArrayLike,
    level: Level | str = "nominal",
    n_categories: int | None = None,
    values: ArrayLike | None = None,
) -> float:
    """Krippendorff's alpha for nominal, ordinal, interval or ratio data, with missing values.

    ``values`` maps category codes to numbers for the interval and ratio metrics (default: the
    codes themselves, which is right for an evenly spaced scale as interval alpha is invariant to
    shifts and scale); the ordinal metric uses only the order of the codes. Returns NaN when
    alpha is undefined: no item has two judgements, or all pairable values fall in one category
    (expected disagreement is zero).
    """
    k = n_categories_of(matrix, n_categories)
    patterns, freq, _ = compress_counts(category_counts(matrix, k))
    features = AlphaFeatures(patterns, level, values)
    return float(features.alpha(freq[None, :].astype(np.float64))[0])
