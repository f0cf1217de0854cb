"""Percent agreement, Cohen's, Fleiss' kappa and Gwet's AC1 on a reliability matrix.

The multi-rater coefficients follow the missing-data forms of Gwet (2014), *Handbook of
Inter-Rater Reliability*, 4th ed., ch. 2 and 4 (the formulas implemented by his irrCAC package).
With r_ik = judgements of item i in category k, r_i = sum_k r_ik and q categories:

* p_a = mean over items with r_i >= 2 of  sum_k r_ik (r_ik - 1) / (r_i (r_i - 1))
* pi_k = mean over items with r_i >= 1 of  r_ik / r_i
* Fleiss: p_e = sum_k pi_k^2;  AC1: p_e = sum_k pi_k (1 - pi_k) / (q - 1)
* coefficient = (p_a - p_e) / (1 - p_e)

With complete data (every item judged by the same number of annotators) the Fleiss form is
exactly Fleiss (1971). ``AgreementFeatures`` evaluates a coefficient on B weightings of the same
distinct count rows at once: row b of ``weights`` says how often each pattern occurs. The
point estimate is the case B = 1 with the observed frequencies; the item bootstrap uses
multinomial frequencies. One code path for both keeps the CI and the estimate consistent.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluation.agreement.matrix import (
    MISSING,
    category_counts,
    compress_counts,
    n_categories_of,
    validate_matrix,
)

FloatArray = NDArray[np.float64]


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN wherever den == 0 (an undefined coefficient, not an error)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


class AgreementFeatures:
    """Per-pattern terms of Gwet's p_a and pi, computed once for a set of distinct count rows.

    ``table`` columns: per-item agreement, pairable flag, rated flag, then the K category shares.
    Evaluating any coefficient for a (B, P) batch of pattern weightings is then one matrix
    product, which is what keeps 1 000 bootstrap resamples cheap.
    """

    def __init__(self, patterns: np.ndarray) -> None:
        counts = patterns.astype(np.float64)
        r = counts.sum(axis=1)
        pairable = r >= 2
        rated = r >= 1
        pa_item = _div((counts * (counts - 1)).sum(axis=1), r * (r - 1))
        pa_item[~pairable] = 0.0
        share = _div(counts, r[:, None])
        share[~rated] = 0.0
        self.table = np.column_stack([pa_item, pairable, rated, share])

    def parts(self, weights: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Gwet's p_a (B,) and category prevalences pi (B, K) for each weighting row."""
        sums = weights @ self.table
        return _div(sums[:, 0], sums[:, 1]), _div(sums[:, 3:], sums[:, 2:3])

    def coefficients(self, weights: FloatArray, n_categories: int) -> dict[str, FloatArray]:
        """p_a, Fleiss' kappa and AC1 (q = ``n_categories``) for each weighting row.

        All three share p_a and pi, so they come from one matrix product.
        """
        pa, pi = self.parts(weights)
        pe_fleiss = (pi**2).sum(axis=1)
        if n_categories >= 2:
            pe_ac1 = (pi * (1.0 - pi)).sum(axis=1) / (n_categories - 1)
            ac1 = _div(pa - pe_ac1, 1.0 - pe_ac1)
        else:
            ac1 = np.full(len(pa), np.nan)
        return {
            "percent_agreement": pa,
            "fleiss_kappa": _div(pa - pe_fleiss, 1.0 - pe_fleiss),
            "gwet_ac1": ac1,
        }


def _point(
    matrix: ArrayLike, n_categories: int | None
) -> tuple[AgreementFeatures, FloatArray, int]:
    m = validate_matrix(matrix)
    k = n_categories_of(m, n_categories)
    patterns, freq, _ = compress_counts(category_counts(m, k))
    return AgreementFeatures(patterns), freq[None, :].astype(np.float64), k


def percent_agreement(matrix: ArrayLike) -> float:
    """Mean pairwise agreement over items with >= 2 judgements (NaN if there are none).

    For each item, the share of ordered pairs of its judgements (by different annotators) that
    agree; items count equally however many judgements they have. Items with a single judgement
    have no pair and are excluded. This is p_a of Fleiss (1971) / Gwet (2014).
    """
    features, weights, k = _point(matrix, None)
    return float(features.coefficients(weights, k)["percent_agreement"][0])


def fleiss_kappa(matrix: ArrayLike, n_categories: int | None = None) -> float:
    """Fleiss' kappa, generalised to items with unequal numbers of judgements.

    Choice for unequal counts: Gwet's (2014) generalisation rather than dropping items, so no
    judgement is thrown away. p_a averages over items with >= 2 judgements; chance agreement
    p_e = sum_k pi_k^2 with pi_k the mean per-item share of category k over items with >= 1
    judgement. With complete data this equals Fleiss (1971) and
    ``statsmodels.stats.inter_rater.fleiss_kappa``. NaN when p_e = 1 (one category only) or
    no item has two judgements.
    """
    features, weights, k = _point(matrix, n_categories)
    return float(features.coefficients(weights, k)["fleiss_kappa"][0])


def gwet_ac1(matrix: ArrayLike, n_categories: int | None = None) -> float:
    """Gwet's AC1 for any number of raters with missing judgements (Gwet 2014, ch. 4).

    Chance agreement is p_e = sum_k pi_k (1 - pi_k) / (q - 1), which stays small when one
    category dominates, so AC1 does not collapse under skewed prevalence the way kappa does
    (the "kappa paradox"). q is the size of the label scheme: pass ``n_categories`` so unused
    categories count (default: max code + 1). NaN when q < 2 or no item has two judgements.
    """
    features, weights, k = _point(matrix, n_categories)
    return float(features.coefficients(weights, k)["gwet_ac1"][0])


def cohen_kappa_matrix(
    matrix: ArrayLike, n_categories: int | None = None, *, min_items: int = 2
) -> FloatArray:
    """Cohen's (1960) kappa for every pair of annotators, on the items both judged.

    Returns a symmetric (n_annotators, n_annotators) array. Entries are NaN where a pair shares
    fewer than ``min_items`` items, where kappa is undefined (both annotators used one and the
    same category, so chance agreement is 1), and on the diagonal (self-agreement is not a
    reliability figure). Each pair is scored by ``sklearn.metrics.cohen_kappa_score``; pairs
    are few, so the Python loop is over annotator pairs, never over items.
    """
    # scikit-learn costs ~2.5 s and ~100 MB to import; web processes load this module through
    # the gate registry and should not pay for it unless a kappa is computed.
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import cohen_kappa_score

    m = validate_matrix(matrix)
    k = n_categories_of(m, n_categories)
    n_annotators = m.shape[1]
    out = np.full((n_annotators, n_annotators), np.nan)
    labels = list(range(k))
    for a, b in combinations(range(n_annotators), 2):
        both = (m[:, a] != MISSING) & (m[:, b] != MISSING)
        if both.sum() < max(min_items, 1):
            continue
        with warnings.catch_warnings():
            # An undefined pair is reported as NaN by design; the warning adds nothing.
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            kappa = cohen_kappa_score(
                m[both, a], m[both, b], labels=labels, replace_undefined_by=np.nan
            )
        out[a, b] = out[b, a] = kappa
    return out


def mean_pairwise_kappa(kappas: FloatArray) -> float:
    """Light's (1971) kappa: the mean of the defined off-diagonal pairwise Cohen's kappas."""
    upper = kappas[np.triu_indices_from(kappas, k=1)]
    upper = upper[~np.isnan(upper)]
    return float(upper.mean()) if upper.size else float("nan")
