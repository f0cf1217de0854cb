"""One JSON-ready agreement report for a reliability matrix."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from evaluation.agreement.alpha import LEVELS
from evaluation.agreement.bootstrap import bootstrap_distributions, percentile_interval
from evaluation.agreement.coefficients import cohen_kappa_matrix, mean_pairwise_kappa
from evaluation.agreement.labels import (
    disagreement_items,
    pairwise_confusion,
    prevalence_skew,
    specific_agreement,
)
from evaluation.agreement.matrix import MISSING, category_counts, validate_matrix


def _jsonable(value: Any) -> Any:
    """Plain Python types only; NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _undefined_reason(name: str, counts: np.ndarray, n_categories: int) -> str:
    """Why a coefficient came out NaN, in words a project manager can act on."""
    per_item = counts.sum(axis=1)
    if not (per_item >= 2).any():
        return "no item has two or more judgements, so there is nothing to compare"
    used = int((counts[per_item >= 2].sum(axis=0) > 0).sum())
    if name == "gwet_ac1" and n_categories < 2:
        return "the label scheme has a single category"
    if used < 2:
        return (
            "every pairable judgement is in one category: expected disagreement is zero, "
            "so chance-corrected agreement is undefined (observed agreement is still reported)"
        )
    return "undefined for this data"


def agreement_report(
    matrix: ArrayLike,
    categories: Sequence[str],
    level: str = "nominal",
    n_resamples: int = 1000,
    seed: int | None = 0,
    *,
    confidence: float = 0.95,
    values: ArrayLike | None = None,
    skew_threshold: float = 0.8,
    max_listed_disagreements: int = 100,
    scale_level: str | None = None,
) -> dict[str, Any]:
    """Every agreement figure for one reliability matrix, as a JSON-serialisable dict.

    ``categories[k]`` names code k; their count is the label scheme size q used by AC1 and the
    confusion table. ``level`` is Krippendorff's level of measurement for alpha (kappa and AC1
    are nominal); ``values`` optionally maps codes to numbers for interval/ratio alpha.
    Confidence intervals are percentile item-bootstrap intervals over ``n_resamples`` resamples
    shared by all coefficients (``seed`` makes them reproducible; ``n_resamples=0`` skips them).
    ``scale_level`` (ordinal, interval or ratio), for a scheme whose labels are ordered, adds
    ``krippendorff_alpha_scale``: alpha at that level with its interval from the same resamples
    (the same seed draws the same items), beside the nominal figure.
    Undefined figures are None, with a ``reason``. Item indices are matrix rows (map them back
    with the ``item_index`` returned by ``reliability_matrix``); at most
    ``max_listed_disagreements`` are listed, the count is always complete.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    m = validate_matrix(matrix)
    k = len(categories)
    counts = category_counts(m, k)
    n_items, n_annotators = m.shape
    per_item = counts.sum(axis=1)
    n_judgements = int(per_item.sum())

    if scale_level is not None and scale_level not in LEVELS:
        raise ValueError(f"scale_level must be one of {LEVELS}, not {scale_level!r}")
    names = ("krippendorff_alpha", "gwet_ac1", "fleiss_kappa", "percent_agreement")
    estimates, replicates = bootstrap_distributions(
        m, names, max(n_resamples, 1), seed, level=level, n_categories=k, values=values
    )

    def entry_for(name: str, estimate: float, reps: np.ndarray) -> dict[str, Any]:
        entry: dict[str, Any] = {"value": estimate, "ci": None, "reason": None}
        if math.isnan(estimate):
            entry["reason"] = _undefined_reason(name, counts, k)
        elif n_resamples > 0:
            low, high = percentile_interval(reps, confidence)
            entry["ci"] = {
                "low": low,
                "high": high,
                "n_valid_resamples": int(np.isfinite(reps).sum()),
            }
        return entry

    coefficients = {name: entry_for(name, estimates[name], replicates[name]) for name in names}
    coefficients["krippendorff_alpha"]["level"] = level
    if scale_level is not None and scale_level != level:
        alpha = "krippendorff_alpha"
        scaled, scaled_reps = bootstrap_distributions(
            m, [alpha], max(n_resamples, 1), seed, level=scale_level, n_categories=k, values=values
        )
        entry = entry_for(alpha, scaled[alpha], scaled_reps[alpha])
        coefficients["krippendorff_alpha_scale"] = {**entry, "level": scale_level}
    coefficients["fleiss_kappa"]["method"] = "Gwet (2014) generalisation for unequal counts"

    kappas = cohen_kappa_matrix(m, k)
    confusion = pairwise_confusion(m, k)
    specific = specific_agreement(m, k)
    label_totals = counts.sum(axis=0)
    disagreements = disagreement_items(m)
    n_pairable = int((per_item >= 2).sum())
    skew = prevalence_skew(m, skew_threshold, k)
    dominant = skew["dominant_category"]
    skew["dominant_label"] = categories[dominant] if dominant is not None else None
    report = {
        "n_items": n_items,
        "n_annotators": n_annotators,
        "n_categories": k,
        "categories": list(categories),
        "level": level,
        "n_judgements": n_judgements,
        "n_pairable_items": n_pairable,
        "n_single_judgement_items": int((per_item == 1).sum()),
        "missing_rate": float((m == MISSING).mean()) if m.size else float("nan"),
        **coefficients,
        "cohen_kappa": {
            "pairwise": kappas,
            "mean": mean_pairwise_kappa(kappas),
            "note": "diagonal and pairs sharing < 2 items are None",
        },
        "per_label": [
            {
                "category": categories[c],
                "code": c,
                "n_judgements": int(label_totals[c]),
                "share": label_totals[c] / n_judgements if n_judgements else float("nan"),
                "specific_agreement": specific[c],
            }
            for c in range(k)
        ],
        "confusion": {"labels": list(categories), "pairs": confusion},
        "disagreement": {
            "n_items": len(disagreements),
            "rate": len(disagreements) / n_pairable if n_pairable else float("nan"),
            "items": disagreements[:max_listed_disagreements],
        },
        "prevalence_skew": skew,
        "bootstrap": {
            "method": "percentile",
            "unit": "item",
            "n_resamples": n_resamples,
            "confidence": confidence,
            "seed": seed,
        },
    }
    return _jsonable(report)
