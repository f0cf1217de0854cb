"""Agreement for multi-label answers, where each judgement is a SET of labels.

Input: a reliability matrix whose codes index ``sets`` (each distinct answer set is one code,
as ``reliability_matrix`` builds it from answer keys), plus the scheme's label names.

Two views, as in the annotation literature:

* per label: "is label l in the set?" turns the matrix into a yes/no matrix per label, on which
  alpha, AC1, Fleiss' and mean pairwise Cohen's kappa are the ordinary nominal coefficients;
  their mean over labels is the overall per-label figure;
* whole sets: Krippendorff's alpha with a distance between sets, MASI (Passonneau 2006) or
  Jaccard, which gives partial credit when two annotators' sets overlap. This is alpha over the
  distinct sets as categories with that distance matrix as the metric; NLTK's
  ``AnnotationTask(distance=masi_distance).alpha()`` computes the same number with Python loops.

Both empty sets are the same answer (distance 0), where NLTK's distance functions divide by zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from evaluation.agreement.bootstrap import (
    _weight_chunks,
    bootstrap_distributions,
    percentile_interval,
)
from evaluation.agreement.coefficients import (
    FloatArray,
    _div,
    cohen_kappa_matrix,
    mean_pairwise_kappa,
)
from evaluation.agreement.labels import disagreement_items
from evaluation.agreement.matrix import (
    MISSING,
    validate_matrix,
)
from evaluation.agreement.report import _jsonable

SET_DISTANCES = ("masi", "jaccard")
PER_LABEL_STATISTICS = ("krippendorff_alpha", "gwet_ac1", "fleiss_kappa", "percent_agreement")


def set_distance(a: frozenset, b: frozenset, metric: str = "masi") -> float:
    """Jaccard distance 1 - |a & b| / |a | b|, or MASI: the Jaccard similarity weighted by
    monotonicity (1 equal, 2/3 one contains the other, 1/3 overlap, 0 disjoint), as in
    Passonneau (2006) and NLTK's ``masi_distance``."""
    if metric not in SET_DISTANCES:
        raise ValueError(f"metric must be one of {SET_DISTANCES}, not {metric!r}")
    union = len(a | b)
    if union == 0:
        return 0.0
    common = len(a & b)
    if metric == "jaccard":
        return 1.0 - common / union
    if a == b:
        monotonicity = 1.0
    elif common == min(len(a), len(b)):
        monotonicity = 2.0 / 3.0
    elif common > 0:
        monotonicity = 1.0 / 3.0
    else:
        monotonicity = 0.0
    return 1.0 - common / union * monotonicity


def set_distance_matrix(sets: Sequence[frozenset], metric: str = "masi") -> FloatArray:
    """(D, D) distances between the distinct answer sets, :func:`set_distance` vectorised over
    a (D x labels) membership table (D can reach the thousands on a large batch)."""
    if metric not in SET_DISTANCES:
        raise ValueError(f"metric must be one of {SET_DISTANCES}, not {metric!r}")
    universe = {label: i for i, label in enumerate(sorted({x for s in sets for x in s}, key=str))}
    member = np.zeros((len(sets), len(universe)))
    for row, labels in enumerate(sets):
        member[row, [universe[x] for x in labels]] = 1.0
    common = member @ member.T
    size = member.sum(axis=1)
    union = size[:, None] + size[None, :] - common
    similarity = _div(common, union)
    if metric == "masi":
        smaller = np.minimum(size[:, None], size[None, :])
        equal = (common == size[:, None]) & (common == size[None, :])
        monotonicity = np.select(
            [equal, common == smaller, common > 0], [1.0, 2.0 / 3.0, 1.0 / 3.0], 0.0
        )
        similarity = similarity * monotonicity
    # Two empty sets are the same answer.
    return np.where(union == 0, 0.0, 1.0 - similarity)


def presence_matrix(matrix: ArrayLike, sets: Sequence[frozenset], label: Any) -> np.ndarray:
    """Yes (1) / no (0) per judgement for one label; missing judgements stay missing."""
    m = validate_matrix(matrix)
    has = np.fromiter((label in s for s in sets), dtype=np.int64, count=len(sets))
    if not len(sets):
        return np.full(m.shape, MISSING, dtype=np.int64)
    return np.where(m == MISSING, MISSING, has[np.maximum(m, 0)])


def _interval(reps: FloatArray, estimate: float, n_resamples: int, confidence: float):
    if math.isnan(estimate) or n_resamples <= 0:
        return None
    low, high = percentile_interval(reps, confidence)
    return {"low": low, "high": high, "n_valid_resamples": int(np.isfinite(reps).sum())}


def _figure(estimate: float, reps: FloatArray, n_resamples: int, confidence: float) -> dict:
    reason = None
    if math.isnan(estimate):
        reason = (
            "undefined: no item has two judgements, or every pairable judgement is the same "
            "(expected disagreement is zero)"
        )
    return {
        "value": estimate,
        "ci": _interval(reps, estimate, n_resamples, confidence),
        "reason": reason,
    }


class SetAlphaFeatures:
    """Per-pattern terms of alpha with set distances, and of exact-set agreement.

    A pattern is an item's sorted tuple of answer codes (missing first), so there are at most
    as many as items and usually far fewer. Unlike the count-table coefficients, the number of
    distinct sets D can be large (up to 2^labels), so the (patterns x D) count table is kept
    sparse and each pattern's observed disagreement is summed over its annotator pairs. All
    distances share one marginal computation and one matrix product per batch of weightings.
    """

    def __init__(self, matrix: np.ndarray, distances: dict[str, FloatArray]) -> None:
        from scipy import sparse

        codes = np.sort(matrix, axis=1)
        self.patterns, inverse, freq = np.unique(
            codes, axis=0, return_inverse=True, return_counts=True
        )
        self.inverse, self.freq = inverse.reshape(-1), freq
        self.names = list(distances)
        present = self.patterns != MISSING
        m = present.sum(axis=1).astype(np.float64)
        n_patterns, n_slots = self.patterns.shape
        pair_distance = np.zeros((n_patterns, len(self.names)))
        pair_equal = np.zeros(n_patterns)
        stacked = np.stack([distances[name] for name in self.names], axis=-1)  # (D, D, M)
        for a in range(n_slots):
            for b in range(a + 1, n_slots):
                both = present[:, a] & present[:, b]
                ca, cb = self.patterns[both, a], self.patterns[both, b]
                pair_distance[both] += 2.0 * stacked[ca, cb]
                pair_equal[both] += 2.0 * (ca == cb)
        self.pairable = (m >= 2).astype(np.float64)
        safe = np.where(m >= 2, m, 2.0)
        self.d_item = np.where(m[:, None] >= 2, pair_distance / (safe[:, None] - 1.0), 0.0)
        self.pa_item = np.where(m >= 2, pair_equal / (safe * (safe - 1.0)), 0.0)
        rows = np.repeat(np.arange(n_patterns), n_slots)[present.ravel()]
        cols = self.patterns[present]
        keep = m[rows] >= 2  # single judgements are not pairable values
        n_sets = stacked.shape[0]
        self.counts_t = sparse.csr_matrix(
            (np.ones(int(keep.sum())), (cols[keep], rows[keep])), shape=(n_sets, n_patterns)
        )
        # (D, M * D): one product gives n_c . delta for every distance.
        self.distances = np.concatenate([distances[name] for name in self.names], axis=1)

    def evaluate(self, weights: FloatArray) -> dict[str, FloatArray]:
        n_c = np.asarray(self.counts_t @ weights.T).T  # (B, D) pairable-value marginals
        n = n_c.sum(axis=1)
        observed = weights @ self.d_item  # (B, M)
        spread = (n_c @ self.distances).reshape(len(n_c), len(self.names), -1)
        expected = np.einsum("bmd,bd->bm", spread, n_c)
        floor = 1e-12 * np.maximum(n, 1.0)[:, None] ** 2
        expected = np.where(expected > floor, expected, 0.0)
        alphas = 1.0 - _div((n[:, None] - 1.0) * observed, expected)
        out = {f"alpha_{name}": alphas[:, i] for i, name in enumerate(self.names)}
        out["exact_agreement"] = _div(weights @ self.pa_item, weights @ self.pairable)
        return out


def set_agreement(
    matrix: ArrayLike,
    sets: Sequence[frozenset],
    n_resamples: int = 1000,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Whole-set figures with item-bootstrap intervals from shared resamples: alpha with the
    MASI and Jaccard distances, and exact-match observed agreement (p_a of the set codes)."""
    m = validate_matrix(matrix)
    features = SetAlphaFeatures(
        m, {metric: set_distance_matrix(sets, metric) for metric in SET_DISTANCES}
    )
    point = features.evaluate(features.freq[None, :].astype(np.float64))
    point = {k: float(v[0]) for k, v in point.items()}
    reps = {k: np.full(max(n_resamples, 0), np.nan) for k in point}
    if n_resamples > 0 and m.shape[0]:
        done = 0
        rng = np.random.default_rng(seed)
        for weights in _weight_chunks(features.freq, features.inverse, n_resamples, rng):
            for name, values in features.evaluate(weights).items():
                reps[name][done : done + len(weights)] = values
            done += len(weights)
    return {k: _figure(point[k], reps[k], n_resamples, confidence) for k in point}


def per_label_agreement(
    matrix: ArrayLike,
    sets: Sequence[frozenset],
    labels: Sequence[Any],
    n_resamples: int = 1000,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """For every label of the scheme: its yes/no agreement figures (alpha and AC1 with CIs,
    Fleiss' kappa, mean pairwise Cohen's kappa, observed agreement) and how often it is used."""
    rows = []
    for label in labels:
        yes_no = presence_matrix(matrix, sets, label)
        estimates, reps = bootstrap_distributions(
            yes_no, PER_LABEL_STATISTICS, max(n_resamples, 1), seed, n_categories=2
        )
        judged = yes_no[yes_no != MISSING]
        rows.append(
            {
                "category": label,
                "n_judgements": int(judged.size),
                "n_present": int(judged.sum()),
                "share": float(judged.mean()) if judged.size else float("nan"),
                **{
                    name: _figure(estimates[name], reps[name], n_resamples, confidence)
                    for name in PER_LABEL_STATISTICS
                },
                "cohen_kappa_mean": mean_pairwise_kappa(cohen_kappa_matrix(yes_no, 2)),
            }
        )
    return rows


def _mean_defined(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def multilabel_report(
    matrix: ArrayLike,
    sets: Sequence[frozenset],
    labels: Sequence[Any],
    n_resamples: int = 1000,
    seed: int | None = 0,
    *,
    confidence: float = 0.95,
    max_listed_disagreements: int = 100,
) -> dict[str, Any]:
    """Every multi-label figure (see the module docstring), JSON-ready after ``_jsonable``.

    ``krippendorff_alpha`` is the MASI alpha, the one whole-answer figure; the mean per-label
    figures are in ``label_mean`` (labels where a figure is undefined are left out of its mean,
    and ``n_labels_defined`` says how many counted).
    """
    m = validate_matrix(matrix)
    per_item = (m != MISSING).sum(axis=1)
    whole = set_agreement(m, sets, n_resamples, seed, confidence)
    per_label = per_label_agreement(m, sets, labels, n_resamples, seed, confidence)
    label_mean = {}
    for name in (*PER_LABEL_STATISTICS, "cohen_kappa_mean"):
        values = [
            row[name] if name == "cohen_kappa_mean" else row[name]["value"] for row in per_label
        ]
        label_mean[name] = {
            "value": _mean_defined(values),
            "n_labels_defined": sum(v is not None and math.isfinite(v) for v in values),
        }
    disagreements = disagreement_items(m)
    n_pairable = int((per_item >= 2).sum())
    return _jsonable(
        {
            "multi_label": True,
            "n_items": int(m.shape[0]),
            "n_annotators": int(m.shape[1]),
            "n_categories": len(labels),
            "categories": list(labels),
            "n_judgements": int(per_item.sum()),
            "n_pairable_items": n_pairable,
            "krippendorff_alpha": {**whole["alpha_masi"], "level": "masi"},
            "krippendorff_alpha_jaccard": {**whole["alpha_jaccard"], "level": "jaccard"},
            "percent_agreement": whole["exact_agreement"],
            "per_label": per_label,
            "label_mean": label_mean,
            "disagreement": {
                "n_items": len(disagreements),
                "rate": len(disagreements) / n_pairable if n_pairable else float("nan"),
                "items": disagreements[:max_listed_disagreements],
            },
            "bootstrap": {
                "method": "percentile",
                "unit": "item",
                "n_resamples": n_resamples,
                "confidence": confidence,
                "seed": seed,
            },
        }
    )
