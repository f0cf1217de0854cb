"""Which labels to re-check: cleanlab label issues, uncertainty, and confused label pairs.

Inputs are out-of-fold predictions from :func:`.train.cross_validate` (an item's
probabilities must come from a model that did not train on it, or its own label leaks in
and the issue finder sees nothing). Labels are class *positions* (``CVResult.y_index``).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["entropy", "error_pairs", "find_suspicious_labels", "uncertainty_order"]


def _name(names: Sequence[str] | None, k: int) -> str:
    return str(names[k]) if names is not None else str(k)


def find_suspicious_labels(
    labels: Sequence[int] | np.ndarray,
    pred_probs: np.ndarray,
    top_k: int | None = None,
    label_names: Sequence[str] | None = None,
    multi_label: bool = False,
) -> list[dict[str, Any]]:
    """Items whose given label disagrees with the model in a way cleanlab finds unlikely.

    Uses ``cleanlab.filter.find_label_issues(..., filter_by="prune_by_noise_rate",
    return_indices_ranked_by="self_confidence")`` (multi-label: its
    ``multilabel_classification.filter`` twin): it estimates per-class noise rates from
    the confident joint and flags that many items, the least self-confident first.

    Returns dicts ranked most suspicious first (``rank`` 1 = worst) with ``index``,
    ``given_label``, ``suggested_label`` (the model's argmax; multi-label: the labels with
    p >= 0.5), ``self_confidence`` (p of the given label -- lower is more suspicious;
    multi-label: cleanlab's aggregated label-quality score), ``suggested_confidence`` and,
    if ``label_names`` is given, ``given_label_name`` / ``suggested_label_name``.
    """
    from cleanlab.filter import find_label_issues

    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2:
        raise ValueError("pred_probs must be (n, K)")
    n, K = pred_probs.shape
    if multi_label:
        return _multi_label_issues(labels, pred_probs, top_k, label_names)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= K:
        raise ValueError("labels must be class positions 0..K-1 matching pred_probs columns")
    if n == 0 or len(np.unique(labels)) < 2:
        return []
    # Rows from a fold that lacked a class can be a hair off 1.0 after float round-off.
    pred_probs = pred_probs / pred_probs.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        # cleanlab warns when a class has very few examples; the estimate is still usable.
        warnings.simplefilter("ignore", UserWarning)
        ranked = find_label_issues(
            labels,
            pred_probs,
            filter_by="prune_by_noise_rate",
            return_indices_ranked_by="self_confidence",
            # n_jobs=1: cleanlab otherwise forks a multiprocessing pool, which fails inside
            # daemonic Celery workers and costs more than it saves at these sizes.
            n_jobs=1,
        )
    if top_k is not None:
        ranked = ranked[:top_k]
    suggested = pred_probs.argmax(axis=1)
    out = []
    for rank, i in enumerate(ranked, start=1):
        given, sugg = int(labels[i]), int(suggested[i])
        row: dict[str, Any] = {
            "rank": rank,
            "index": int(i),
            "given_label": given,
            "suggested_label": sugg,
            "self_confidence": float(pred_probs[i, given]),
            "suggested_confidence": float(pred_probs[i, sugg]),
        }
        if label_names is not None:
            row["given_label_name"] = _name(label_names, given)
            row["suggested_label_name"] = _name(label_names, sugg)
        out.append(row)
    return out


def _multi_label_issues(
    labels: Any, pred_probs: np.ndarray, top_k: int | None, label_names: Sequence[str] | None
) -> list[dict[str, Any]]:
    from cleanlab.multilabel_classification import get_label_quality_scores
    from cleanlab.multilabel_classification.filter import find_label_issues

    indicator = np.asarray(labels)
    if indicator.shape != pred_probs.shape:
        raise ValueError("multi-label labels must be an indicator matrix shaped like pred_probs")
    as_lists = [list(np.flatnonzero(row)) for row in indicator]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ranked = find_label_issues(
            as_lists,
            pred_probs,
            return_indices_ranked_by="self_confidence",
            n_jobs=1,
        )
        scores = get_label_quality_scores(as_lists, pred_probs)
    if top_k is not None:
        ranked = ranked[:top_k]
    out = []
    for rank, i in enumerate(ranked, start=1):
        given = [int(k) for k in as_lists[i]]
        sugg = [int(k) for k in np.flatnonzero(pred_probs[i] >= 0.5)]
        row: dict[str, Any] = {
            "rank": rank,
            "index": int(i),
            "given_label": given,
            "suggested_label": sugg,
            "self_confidence": float(scores[i]),
            "suggested_confidence": float(
                np.prod(np.where(pred_probs[i] >= 0.5, pred_probs[i], 1 - pred_probs[i]))
            ),
        }
        if label_names is not None:
            row["given_label_name"] = [_name(label_names, k) for k in given]
            row["suggested_label_name"] = [_name(label_names, k) for k in sugg]
        out.append(row)
    return out


def entropy(pred_probs: np.ndarray, normalize: bool = False) -> np.ndarray:
    """Shannon entropy (nats) of each row: 0 for one-hot, ``log K`` for uniform.

    ``normalize=True`` divides by ``log K`` so scores lie in [0, 1] whatever the label count.
    """
    p = np.asarray(pred_probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError("pred_probs must be (n, K)")
    # 0 * log 0 = 0 by convention; np.where keeps log(0) out of the product.
    h = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)
    h = np.maximum(h, 0.0)  # round-off can give -1e-17 for one-hot rows
    if normalize:
        K = p.shape[1]
        h = h / np.log(K) if K > 1 else np.zeros_like(h)
    return h


def uncertainty_order(pred_probs: np.ndarray) -> np.ndarray:
    """Item indices, most uncertain (highest entropy) first; ties keep input order."""
    return np.argsort(-entropy(pred_probs), kind="stable")


def error_pairs(
    y: Sequence[int] | np.ndarray,
    oof_pred: Sequence[int] | np.ndarray,
    label_names: Sequence[str] | None = None,
    texts: Sequence[str] | None = None,
    max_examples: int = 3,
    pred_probs: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Group misclassified items by (given, predicted) label pair, most frequent first.

    Each entry: ``given``, ``predicted`` (positions), ``given_name``, ``predicted_name``,
    ``count``, ``share_of_given`` (count / items with that given label) and ``examples``
    (``{"index", "text"?}``). With ``pred_probs`` the examples are the model's *most
    confident* mistakes for that pair -- the clearest cases for a guideline discussion --
    otherwise the first ones in input order.
    """
    y = np.asarray(y, dtype=np.int64)
    pred = np.asarray(oof_pred, dtype=np.int64)
    if y.shape != pred.shape or y.ndim != 1:
        raise ValueError("y and oof_pred must be 1-D arrays of equal length")
    wrong = np.flatnonzero(y != pred)
    support = Counter(y.tolist())
    by_pair: dict[tuple[int, int], list[int]] = {}
    for i in wrong:
        by_pair.setdefault((int(y[i]), int(pred[i])), []).append(int(i))
    out = []
    for (g, p), members in by_pair.items():
        if pred_probs is not None:
            members = sorted(members, key=lambda i, p=p: (-float(pred_probs[i, p]), i))
        examples = []
        for i in members[:max_examples]:
            ex: dict[str, Any] = {"index": i}
            if texts is not None:
                ex["text"] = texts[i]
            examples.append(ex)
        out.append(
            {
                "given": g,
                "predicted": p,
                "given_name": _name(label_names, g),
                "predicted_name": _name(label_names, p),
                "count": len(members),
                "share_of_given": len(members) / support[g],
                "examples": examples,
            }
        )
    out.sort(key=lambda d: (-d["count"], d["given"], d["predicted"]))
    return out
