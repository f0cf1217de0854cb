"""One verification run's numbers, from arrays to a JSON report and SVG figures. No Django.

Composes :mod:`.train`, :mod:`.issues` and :mod:`.plots` (a colleague's numerical core) into the
report the step-11 page shows, and adds the few things they do not do: fitting the probe on all
labelled data to predict unlabelled items, and comparing two stored reports.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "MIN_ITEMS",
    "RunCancelled",
    "compare_reports",
    "fit_predict_proba",
    "library_versions",
    "verify",
]

#: Fewer labelled items than this cannot give a meaningful cross-validation.
MIN_ITEMS = 10

Progress = Callable[[str, int], None]


class RunCancelled(Exception):
    """The manager asked the run to stop; raised between stages."""


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries whose behaviour decides the numbers (read from the
    package metadata, so torch is not imported just to ask)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("numpy", "scikit-learn", "cleanlab", "torch", "transformers"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def _weak_first(weak_labels: Sequence[Any] | None) -> list[Any] | None:
    """An item's weak label is the first entry of its ``weak_labels`` list (None: abstains)."""
    if weak_labels is None:
        return None
    first = [w[0] if isinstance(w, list) and w else (w or None) for w in weak_labels]
    return first if any(v is not None for v in first) else None


def verify(
    X: np.ndarray,
    labels: Sequence[str],
    *,
    item_ids: Sequence[int],
    texts: Sequence[str],
    weak_labels: Sequence[Any] | None = None,
    n_folds: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
    fractions: Sequence[float] = (0.1, 0.25, 0.5, 1.0),
    top_k: int = 200,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Learnability (k-fold CV with majority and weak-label baselines), learning curve with its
    reading, suspicious labels (cleanlab on out-of-fold probabilities) and confused label
    pairs, for embeddings ``X`` and single labels ``labels``. Items are named by ``item_ids``
    in the report. ``progress(stage, percent)`` is called between stages, ``should_stop()``
    checked there too (raising :class:`RunCancelled`). Returns (report, figures)."""
    from .issues import error_pairs, find_suspicious_labels
    from .plots import confusion_matrix_svg, learning_curve_svg
    from .train import cross_validate, learning_curve, read_learning_curve

    def step(stage: str, percent: int) -> None:
        if should_stop is not None and should_stop():
            raise RunCancelled(stage)
        if progress is not None:
            progress(stage, percent)

    n = len(labels)
    if n < MIN_ITEMS:
        raise ValueError(f"Verification needs at least {MIN_ITEMS} labelled items; found {n}.")
    if len(set(labels)) < 2:
        raise ValueError("Verification needs at least two different labels.")
    folds = max(2, min(n_folds, n))
    step("learnability", 50)
    cv = cross_validate(X, list(labels), n_folds=folds, weak_labels=_weak_first(weak_labels))
    classes = [str(c) for c in cv.classes]
    step("learning curve", 65)
    points = learning_curve(X, list(labels), fractions=fractions, seeds=seeds, n_folds=folds)
    try:
        reading = read_learning_curve(points)
    except ValueError as exc:  # too few items for two distinct sizes
        reading = f"No reading: {exc}."
    step("suspicious labels", 85)
    suspicious = find_suspicious_labels(
        cv.y_index, cv.oof_pred_probs, top_k=top_k, label_names=classes
    )
    for row in suspicious:
        row["item_id"] = int(item_ids[row["index"]])
        row["text"] = texts[row["index"]]
        row["score"] = 1.0 - row["self_confidence"]
    pairs = error_pairs(cv.y_index, cv.oof_pred, classes, texts=texts, pred_probs=cv.oof_pred_probs)
    for pair in pairs:
        for example in pair["examples"]:
            example["item_id"] = int(item_ids[example["index"]])
    step("figures", 95)
    learnability = cv.to_dict(include_predictions=False)
    lc = [p.to_dict() for p in points]
    majority = (cv.baselines.get("majority") or {}).get("macro_f1")
    report = {
        "n_items": n,
        "classes": classes,
        "label_counts": {c: int(np.sum(cv.y_index == k)) for k, c in enumerate(classes)},
        "learnability": learnability,
        "learning_curve": {"points": lc, "reading": reading},
        "suspicious": suspicious,
        "error_pairs": pairs,
    }
    figures = {
        "learning_curve": learning_curve_svg(points, baseline=majority),
        "confusion_matrix": confusion_matrix_svg(cv.confusion_matrix, classes),
    }
    return report, figures


def fit_predict_proba(
    X_train: np.ndarray, labels: Sequence[str], X_target: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Fit the probe on every labelled item and return (classes, probabilities) for
    ``X_target``: what "the latest model" predicts for items it never saw."""
    from sklearn.exceptions import ConvergenceWarning

    from .train import make_classifier

    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("The model needs at least two different labels.")
    if len(X_target) == 0:
        return classes, np.zeros((0, len(classes)))
    clf = make_classifier()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(np.asarray(X_train), np.asarray(labels))
    probs = clf.predict_proba(np.asarray(X_target))
    order = [list(clf.classes_).index(c) for c in classes]
    return classes, probs[:, order]


def _f1_by_label(report: dict[str, Any]) -> dict[str, float]:
    rows = report.get("learnability", {}).get("per_label", [])
    return {str(r["label"]): float(r["f1"]) for r in rows}


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two reports side by side: macro-F1 of each and, per label, F1 of each and the delta
    (b - a; None where a label is missing from one run)."""
    fa, fb = _f1_by_label(a), _f1_by_label(b)
    rows = []
    for label in sorted(set(fa) | set(fb)):
        va, vb = fa.get(label), fb.get(label)
        delta = vb - va if va is not None and vb is not None else None
        rows.append({"label": label, "f1_a": va, "f1_b": vb, "delta": delta})
    ma = a.get("learnability", {}).get("macro_f1")
    mb = b.get("learnability", {}).get("macro_f1")
    return {
        "macro_f1_a": ma,
        "macro_f1_b": mb,
        "macro_f1_delta": mb - ma if ma is not None and mb is not None else None,
        "per_label": rows,
        "n_items_a": a.get("n_items"),
        "n_items_b": b.get("n_items"),
    }


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy of each predicted distribution divided by log K: 0 certain, 1 uniform."""
    from .issues import entropy

    k = probs.shape[1] if probs.ndim == 2 else 0
    return entropy(probs, normalize=True) if k > 1 else np.zeros(len(probs))
