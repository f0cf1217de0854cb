"""Per-label views of agreement: pairwise confusion, specific agreement, skew, disagreements."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluation.agreement.coefficients import FloatArray, _div
from evaluation.agreement.matrix import (
    MISSING,
    category_counts,
    n_categories_of,
    validate_matrix,
)


def pairwise_confusion(matrix: ArrayLike, n_categories: int | None = None) -> NDArray[np.int64]:
    """Label confusion across annotators: ordered pairs of judgements on the same item.

    ``C[c, k]`` counts, over all items, the ordered pairs of judgements by two different
    annotators where one said ``c`` and the other ``k``: sum_i N_ic N_ik - [c == k] N_ic. It is
    symmetric; the diagonal holds agreeing pairs, off-diagonal cells the confusions. Items with a
    single judgement form no pair. (Krippendorff's coincidence matrix is this with each item
    weighted by 1 / (m_i - 1).)
    """
    counts = category_counts(matrix, n_categories)
    return counts.T @ counts - np.diag(counts.sum(axis=0))


def specific_agreement(matrix: ArrayLike, n_categories: int | None = None) -> FloatArray:
    """Specific (category-wise) agreement p_s(k) for every category, shape (K,).

    Of all pairable judgements of category k (each judgement paired with every other
    annotator's judgement on the same item), the share whose partner also says k:
    p_s(k) = sum_i n_ik (n_ik - 1) / sum_i n_ik (n_i - 1)  (Uebersax 1982; for two annotators it
    is the familiar positive/negative agreement 2a / (2a + b + c), Cicchetti & Feinstein 1990).
    NaN for a category with no pairable judgement.
    """
    confusion = pairwise_confusion(matrix, n_categories)
    return _div(np.diag(confusion), confusion.sum(axis=1))


def disagreement_items(matrix: ArrayLike) -> NDArray[np.int64]:
    """Row indices of items whose non-missing judgements are not all equal (sorted)."""
    m = validate_matrix(matrix)
    if m.size == 0:
        return np.zeros(0, dtype=np.int64)
    highest = m.max(axis=1)
    lowest = np.where(m == MISSING, np.iinfo(np.int64).max, m).min(axis=1)
    # lowest stays at the sentinel only for items with no judgement at all.
    return np.flatnonzero((highest != MISSING) & (lowest < highest)).astype(np.int64)


def prevalence_skew(
    matrix: ArrayLike, threshold: float = 0.8, n_categories: int | None = None
) -> dict[str, Any]:
    """Flag a skewed label distribution, the condition of the kappa paradox.

    When one category takes a share >= ``threshold`` of all judgements, chance agreement under
    kappa/alpha approaches 1 and those coefficients can be low despite very high observed
    agreement (Feinstein & Cicchetti 1990). The report then points to AC1 and percent agreement.
    """
    m = validate_matrix(matrix)
    k = n_categories_of(m, n_categories)
    totals = np.bincount(m[m != MISSING], minlength=k)
    n = int(totals.sum())
    shares = totals / n if n else np.zeros(k)
    dominant = int(np.argmax(shares)) if k else None
    share = float(shares[dominant]) if dominant is not None else float("nan")
    skewed = bool(n and share >= threshold)
    warning = None
    if skewed:
        warning = (
            f"category {dominant} has {share:.0%} of all judgements (>= {threshold:.0%}): "
            "kappa and alpha are depressed by the prevalence (kappa paradox); read them "
            "with AC1 and percent agreement"
        )
    return {
        "skewed": skewed,
        "dominant_category": dominant,
        "dominant_share": share,
        "threshold": threshold,
        "shares": shares.tolist(),
        "warning": warning,
    }
