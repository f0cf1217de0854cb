"""Scoring helpers shared by :mod:`.train`: per-label metrics, weak-label scoring, JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
)

__all__ = ["jsonable", "score_predictions", "score_weak_labels"]


def jsonable(obj: Any) -> Any:
    """Recursively turn numpy arrays/scalars into lists/Python scalars; NaN/inf -> None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def score_predictions(
    y_index: np.ndarray, pred: np.ndarray, n_classes: int, classes: Sequence[Any] | None = None
) -> dict[str, Any]:
    """Per-label P/R/F1, macro-F1, accuracy and confusion matrix of ``pred`` vs ``y_index``.

    Single-label: class positions ``0..K-1``; a prediction outside that range (``-1`` for an
    abstaining weak labeller) is a miss for the true class and nobody's false positive.
    Multi-label: (n, K) indicators; accuracy is exact-match, the confusion matrix (K, 2, 2).
    """
    classes = list(classes) if classes is not None else list(range(n_classes))
    multi = np.ndim(y_index) == 2
    labels = None if multi else list(range(n_classes))
    p, r, f, s = precision_recall_fscore_support(
        y_index, pred, labels=labels, average=None, zero_division=0
    )
    per_label = [
        {
            "label": c,
            "precision": float(p[k]),
            "recall": float(r[k]),
            "f1": float(f[k]),
            "support": int(s[k]),
        }
        for k, c in enumerate(classes)
    ]
    if multi:
        cm = multilabel_confusion_matrix(y_index, pred)
    else:
        cm = confusion_matrix(y_index, pred, labels=labels)
    return {
        "per_label": per_label,
        "macro_f1": float(np.mean(f)),
        "accuracy": float(accuracy_score(y_index, pred)),
        "confusion_matrix": cm,
    }


def score_weak_labels(
    weak: Any,
    y_index: np.ndarray,
    classes: Sequence[Any],
    multi_label: bool = False,
    abstain: Any = None,
) -> dict[str, Any]:
    """Score a weak labeller's outputs against the gold labels (no training involved).

    Single-label: ``weak`` holds values from the label space of ``classes``; entries equal
    to ``abstain``, None or NaN are abstentions and, like labels outside ``classes``, count
    as misses. ``coverage`` is the non-abstained share, ``accuracy_on_covered`` the
    accuracy where it did answer. Multi-label: ``weak`` is an (n, K) indicator matrix.
    """
    classes = list(classes)
    K = len(classes)
    if multi_label:
        w = np.asarray(weak)
        if w.shape != np.shape(y_index):
            raise ValueError(f"weak labels must have shape {np.shape(y_index)}, got {w.shape}")
        s = score_predictions(y_index, w.astype(np.int64), K, classes)
        return {
            "macro_f1": s["macro_f1"],
            "accuracy": s["accuracy"],
            "coverage": 1.0,
            "per_label": s["per_label"],
        }
    weak = list(weak)
    if len(weak) != len(y_index):
        raise ValueError(f"weak labels must have length {len(y_index)}, got {len(weak)}")
    position = {c: k for k, c in enumerate(classes)}

    def is_abstain(v: Any) -> bool:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return True
        return abstain is not None and bool(v == abstain)

    abstained = np.array([is_abstain(v) for v in weak], dtype=bool)
    w_idx = np.array(
        [
            -1 if a else position.get(v.item() if isinstance(v, np.generic) else v, -1)
            for v, a in zip(weak, abstained, strict=True)
        ],
        dtype=np.int64,
    )
    covered = ~abstained
    s = score_predictions(y_index, w_idx, K, classes)
    acc_cov = float((w_idx[covered] == y_index[covered]).mean()) if covered.any() else None
    return {
        "macro_f1": s["macro_f1"],
        "accuracy": s["accuracy"],
        "coverage": float(covered.mean()),
        "accuracy_on_covered": acc_cov,
        "n_unknown_labels": int(((w_idx == -1) & covered).sum()),
        "per_label": s["per_label"],
    }
