"""Cross-validated evaluation of a linear probe on embeddings, baselines and learning curves.

Everything takes arrays and returns plain results; results serialise with ``.to_dict()``.

Label convention (single-label): ``y`` may hold any sortable labels (str or int);
``classes = sorted(unique(y))`` and every per-class array (probability columns, confusion
matrix rows/cols, ``y_index``, ``oof_pred``) is indexed by position in ``classes``.
Multi-label: ``y`` is a binary indicator matrix ``(n, K)`` and ``classes = [0..K-1]``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .metrics import jsonable, score_predictions, score_weak_labels
from .reading import LearningCurvePoint, learning_curve_trend, read_learning_curve

__all__ = [
    "CVResult",
    "LearningCurvePoint",
    "cross_validate",
    "learning_curve",
    "learning_curve_trend",
    "make_classifier",
    "read_learning_curve",
]

# Inverse L2 strength on standardised features. Moderate regularisation: annotation sets are
# often a few hundred items, where C >= 1 overfits 384 dimensions; on 10k items C in
# [0.01, 1] gives the same accuracy and smaller C converges faster.
DEFAULT_C = 0.1


def make_classifier(
    C: float = DEFAULT_C, seed: int = 0, multi_label: bool = False, warm_start: bool = False
) -> Any:
    """The probe: standardise, then L2 logistic regression (multinomial; OvR if multi-label).

    Standardising makes ``C`` mean the same thing for any encoder (unit-norm sentence
    vectors have per-dimension spreads of ~0.05; MiniLM even has a dead dimension, which
    the scaler leaves at scale 1) and lets lbfgs converge in few steps. ``tol=1e-3`` halves
    the lbfgs iterations versus the default 1e-4 with no measurable change in accuracy.
    """
    base: Pipeline = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=C, tol=1e-3, max_iter=1000, random_state=seed, warm_start=warm_start),
    )
    return OneVsRestClassifier(base) if multi_label else base


@dataclass
class CVResult:
    """Out-of-fold predictions and scores from :func:`cross_validate`."""

    classes: list[Any]
    multi_label: bool
    n_folds: int
    seed: int
    y_index: np.ndarray  # (n,) class positions, or (n, K) indicator
    oof_pred_probs: np.ndarray  # (n, K)
    oof_pred: np.ndarray  # (n,) class positions, or (n, K) indicator (threshold 0.5)
    per_label: list[dict[str, Any]]
    macro_f1: float
    accuracy: float  # multi-label: exact-match (subset) accuracy
    confusion_matrix: np.ndarray  # (K, K) rows=given, cols=predicted; multi-label (K, 2, 2)
    fold_macro_f1: list[float]
    params: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def to_dict(self, include_predictions: bool = True) -> dict[str, Any]:
        """JSON-serialisable dict; drop the (n, K) arrays with ``include_predictions=False``."""
        d = asdict(self)
        for key in ("y_index", "oof_pred_probs", "oof_pred", "confusion_matrix"):
            d[key] = np.asarray(d[key]).tolist()
        if not include_predictions:
            for key in ("y_index", "oof_pred_probs", "oof_pred"):
                d.pop(key)
        return jsonable(d)


def _encode_labels(y: Any, multi_label: bool) -> tuple[np.ndarray, list[Any]]:
    y = np.asarray(y)
    if multi_label:
        if y.ndim != 2:
            raise ValueError("multi_label=True needs y as a binary indicator matrix (n, K)")
        if not np.isin(y, (0, 1)).all():
            raise ValueError("multi-label y must contain only 0/1")
        return y.astype(np.int64), list(range(y.shape[1]))
    if y.ndim != 1:
        raise ValueError("single-label y must be 1-D (pass multi_label=True for indicators)")
    classes, y_index = np.unique(y, return_inverse=True)
    return y_index.astype(np.int64), [c.item() if isinstance(c, np.generic) else c for c in classes]


def _as_features(X: Any) -> np.ndarray:
    # Keep float32 embeddings as float32: the lbfgs passes are memory-bound over X, so half
    # the bytes is close to half the time, and 24 bits of mantissa is ample for tol=1e-3.
    X = np.asarray(X)
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


def _folds(y_index: np.ndarray, n_folds: int, seed: int, multi_label: bool) -> list:
    n = len(y_index)
    if not 2 <= n_folds <= n:
        raise ValueError(f"n_folds must be in [2, n={n}], got {n_folds}")
    if multi_label:
        # sklearn has no multi-label stratification; shuffled folds are unbiased, just noisier.
        return list(KFold(n_folds, shuffle=True, random_state=seed).split(y_index))
    # StratifiedKFold refuses more folds than the largest class has members (tiny pilot sets,
    # e.g. 10 items over 5 labels); use as many folds as it allows rather than failing.
    n_folds = min(n_folds, int(np.bincount(y_index).max()))
    if n_folds < 2:
        raise ValueError("every label has a single item: nothing to cross-validate")
    with warnings.catch_warnings():
        # "least populated class has only m members": folds are still valid.
        warnings.simplefilter("ignore", UserWarning)
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(n), y_index))


def _fit_proba(
    clf: Any, X_tr: np.ndarray, y_tr: np.ndarray, X_te: np.ndarray, K: int, multi_label: bool
) -> np.ndarray:
    """Fit ``clf`` and return probabilities (n_te, K) aligned to all K classes."""
    probs = np.zeros((len(X_te), K))
    if not multi_label:
        present = np.unique(y_tr)
        if len(present) == 1:  # logistic regression needs two classes
            probs[:, present[0]] = 1.0
            return probs
    with warnings.catch_warnings():
        # A fit stopped at max_iter is still a usable probe; OvR warns about labels absent
        # from a fold, which its constant 0-probability column already encodes.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        clf.fit(X_tr, y_tr)
        out = clf.predict_proba(X_te)
    if multi_label:
        return out
    probs[:, clf.classes_] = out  # a fold missing a class gets probability 0 for it
    return probs


def _cv_fold(
    X: np.ndarray,
    y_index: np.ndarray,
    tr: np.ndarray,
    te: np.ndarray,
    K: int,
    multi_label: bool,
    C: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    clf = make_classifier(C=C, seed=seed, multi_label=multi_label)
    probs = _fit_proba(clf, X[tr], y_index[tr], X[te], K, multi_label)
    majority = DummyClassifier(strategy="most_frequent").fit(X[tr], y_index[tr])
    return probs, majority.predict(X[te])


def _run(fn: Any, jobs: list[tuple], n_jobs: int | None) -> list:
    # One BLAS thread per fit: these are narrow (n x d) @ (d x K) products where BLAS
    # threading gains little, and multi-threaded OpenBLAS made fits >10x slower when the
    # CPUs were shared with other processes. Parallelism comes from folds instead, in
    # threads: the heavy parts (BLAS, sklearn's Cython loss) release the GIL, and threads
    # avoid re-importing sklearn and copying X into worker processes.
    with threadpool_limits(limits=1, user_api="blas"):
        if n_jobs is None or n_jobs == 1:
            return [fn(*args) for args in jobs]
        return Parallel(n_jobs=n_jobs, prefer="threads")(delayed(fn)(*args) for args in jobs)


def cross_validate(
    X: np.ndarray,
    y: Any,
    n_folds: int = 5,
    seed: int = 0,
    multi_label: bool = False,
    weak_labels: Any | None = None,
    abstain: Any = None,
    C: float = DEFAULT_C,
    n_jobs: int | None = 1,
) -> CVResult:
    """K-fold cross-validation of the logistic-regression probe on embeddings ``X``.

    Returns out-of-fold probabilities for every item (each predicted by a model that never
    saw it -- what cleanlab needs), per-label and macro scores, and baselines:

    * ``majority``: sklearn ``DummyClassifier(most_frequent)`` fit per fold, same folds.
    * ``weak_label`` (only if ``weak_labels`` is given): the weak labeller's outputs scored
      against ``y``; see :func:`.metrics.score_weak_labels` (``abstain`` marks abstentions).

    ``n_jobs`` > 1 fits folds in parallel threads (joblib); results do not depend on it.
    """
    X = _as_features(X)
    y_index, classes = _encode_labels(y, multi_label)
    n, K = len(y_index), len(classes)
    if X.ndim != 2 or len(X) != n:
        raise ValueError(f"X must be (n, d) with n={n}, got {X.shape}")
    if not multi_label and K < 2:
        raise ValueError("need at least two distinct labels")

    folds = _folds(y_index, n_folds, seed, multi_label)
    jobs = [(X, y_index, tr, te, K, multi_label, C, seed) for tr, te in folds]
    probs = np.zeros((n, K))
    pred_major = np.zeros_like(y_index)
    fold_f1 = []
    for (_, te), (p, major) in zip(folds, _run(_cv_fold, jobs, n_jobs), strict=True):
        probs[te], pred_major[te] = p, major
        fold_f1.append(score_predictions(y_index[te], _decide(p, multi_label), K)["macro_f1"])

    pred = _decide(probs, multi_label)
    scores = score_predictions(y_index, pred, K, classes)
    major = score_predictions(y_index, pred_major, K, classes)
    baselines: dict[str, dict[str, Any] | None] = {
        "majority": {"macro_f1": major["macro_f1"], "accuracy": major["accuracy"]},
        "weak_label": None,
    }
    if weak_labels is not None:
        baselines["weak_label"] = score_weak_labels(
            weak_labels, y_index, classes, multi_label, abstain
        )
    return CVResult(
        classes=classes,
        multi_label=multi_label,
        n_folds=len(folds),  # may be fewer than asked for on tiny sets; see _folds
        seed=seed,
        params={
            "C": C,
            "classifier": "StandardScaler + LogisticRegression(lbfgs, L2)"
            + (" one-vs-rest" if multi_label else " multinomial"),
        },
        y_index=y_index,
        oof_pred_probs=probs,
        oof_pred=pred,
        per_label=scores["per_label"],
        macro_f1=scores["macro_f1"],
        accuracy=scores["accuracy"],
        confusion_matrix=scores["confusion_matrix"],
        fold_macro_f1=fold_f1,
        baselines=baselines,
    )


def _decide(probs: np.ndarray, multi_label: bool) -> np.ndarray:
    return (probs >= 0.5).astype(np.int64) if multi_label else probs.argmax(1)


def _nested_subsamples(
    y_tr: np.ndarray, fractions: Sequence[float], rng: np.random.Generator, multi_label: bool
) -> list[np.ndarray]:
    """Positions into ``y_tr`` for each fraction; each subset contains the previous one.

    Single-label: per class ``ceil(fraction * count)`` (at least 1), so proportions are kept
    and every class stays present (the warm start needs the same classes in every fit).
    Multi-label: plain random prefixes.
    """
    if multi_label:
        order = rng.permutation(len(y_tr))
        return [np.sort(order[: max(2, math.ceil(f * len(y_tr)))]) for f in fractions]
    per_class = [rng.permutation(np.flatnonzero(y_tr == c)) for c in np.unique(y_tr)]
    return [
        np.sort(np.concatenate([m[: max(1, math.ceil(f * len(m)))] for m in per_class]))
        for f in fractions
    ]


def _lc_fold(
    X: np.ndarray,
    y_index: np.ndarray,
    tr: np.ndarray,
    te: np.ndarray,
    fractions: Sequence[float],
    K: int,
    multi_label: bool,
    C: float,
    seed: int,
    fold: int,
) -> list[tuple[np.ndarray, int]]:
    # Seeded per (seed, fold) so results do not depend on execution order under n_jobs.
    rng = np.random.default_rng([seed, fold])
    subsets = _nested_subsamples(y_index[tr], fractions, rng, multi_label)
    # Nested subsets + warm start: each fit starts from the previous, smaller fit's solution.
    # The objective is convex, so this changes the iteration count, not the optimum (up to tol).
    clf = make_classifier(C=C, seed=seed, multi_label=multi_label, warm_start=True)
    out = []
    for sub in subsets:
        rows = tr[sub]
        out.append((_fit_proba(clf, X[rows], y_index[rows], X[te], K, multi_label), len(rows)))
    return out


def learning_curve(
    X: np.ndarray,
    y: Any,
    fractions: Sequence[float] = (0.1, 0.25, 0.5, 1.0),
    seeds: Sequence[int] = (0, 1, 2),
    n_folds: int = 5,
    multi_label: bool = False,
    C: float = DEFAULT_C,
    n_jobs: int | None = 1,
) -> list[LearningCurvePoint]:
    """Macro-F1 of the probe as a function of training-set size.

    For each seed the data are split into ``n_folds`` stratified folds; within each fold the
    probe is trained on a stratified ``fraction`` of the training part (nested: larger
    fractions contain smaller ones) and predicts the *whole* held-out fold, so every size
    is scored on all ``n`` items rather than on a shrinking test set. A point's ``n`` is the
    mean number of training examples per fit; ``std_macro_f1`` is across seeds.
    """
    fractions = sorted({float(f) for f in fractions})
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise ValueError("fractions must lie in (0, 1]")
    X = _as_features(X)
    y_index, classes = _encode_labels(y, multi_label)
    K = len(classes)
    scores: dict[float, list[float]] = {f: [] for f in fractions}
    sizes: dict[float, list[int]] = {f: [] for f in fractions}
    for seed in seeds:
        folds = _folds(y_index, n_folds, seed, multi_label)
        jobs = [
            (X, y_index, tr, te, fractions, K, multi_label, C, seed, i)
            for i, (tr, te) in enumerate(folds)
        ]
        probs = {f: np.zeros((len(y_index), K)) for f in fractions}
        for (_, te), per_fraction in zip(folds, _run(_lc_fold, jobs, n_jobs), strict=True):
            for f, (p, size) in zip(fractions, per_fraction, strict=True):
                probs[f][te] = p
                sizes[f].append(size)
        for f in fractions:
            scores[f].append(
                score_predictions(y_index, _decide(probs[f], multi_label), K)["macro_f1"]
            )
    return [
        LearningCurvePoint(
            fraction=f,
            n=round(float(np.mean(sizes[f]))),
            mean_macro_f1=float(np.mean(scores[f])),
            std_macro_f1=float(np.std(scores[f])),
            seed_scores=scores[f],
        )
        for f in fractions
    ]
