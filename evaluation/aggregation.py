"""Turning several judgements per item into one label: majority vote and Dawid-Skene.

Pure NumPy/SciPy on the reliability matrix of :mod:`evaluation.agreement` (items x annotators,
codes 0..K-1, -1 = missing); no Django import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluation.agreement.matrix import (
    MISSING,
    category_counts,
    n_categories_of,
    validate_matrix,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class MajorityVote:
    """Per-item plurality label; ``labels`` is -1 and ``confidence`` NaN for unjudged items."""

    labels: IntArray
    confidence: FloatArray  # share of the item's judgements that went to the winner
    n_votes: IntArray
    tied: NDArray[np.bool_]  # another category had as many votes as the winner


def majority_vote(matrix: ArrayLike, n_categories: int | None = None) -> MajorityVote:
    """Plurality vote per item with the winner's vote share as confidence.

    Ties are broken towards the lowest category code (``np.argmax`` returns the first maximum):
    deterministic and independent of annotator order. ``tied`` flags those items so a caller can
    route them to adjudication instead of trusting the arbitrary winner.
    """
    counts = category_counts(matrix, n_categories)
    n_votes = counts.sum(axis=1)
    has_votes = n_votes > 0
    if counts.shape[1]:
        labels = np.argmax(counts, axis=1).astype(np.int64)
        top = counts.max(axis=1)
    else:
        labels = np.zeros(len(counts), dtype=np.int64)
        top = np.zeros(len(counts), dtype=np.int64)
    labels[~has_votes] = MISSING
    confidence = np.full(len(counts), np.nan)
    confidence[has_votes] = top[has_votes] / n_votes[has_votes]
    tied = has_votes & ((counts == top[:, None]).sum(axis=1) > 1)
    return MajorityVote(labels, confidence, n_votes.astype(np.int64), tied)


@dataclass(frozen=True)
class DawidSkeneResult:
    """Fitted Dawid-Skene model.

    ``confusion[j, t, l]`` = P(annotator j says l | true class t); rows sum to 1.
    ``annotator_accuracy[j]`` = expected share of j's judgements that are correct under the
    posterior (NaN for an annotator with no judgement).
    """

    posteriors: FloatArray  # (n_items, K)
    labels: IntArray  # argmax of posteriors, ties to the lowest code; -1 if unjudged
    confidence: FloatArray  # max posterior; NaN if unjudged
    confusion: FloatArray  # (n_annotators, K, K)
    priors: FloatArray  # (K,) class prevalence
    annotator_accuracy: FloatArray  # (n_annotators,)
    log_likelihood: float
    n_iter: int
    converged: bool


def _gold_arrays(gold: Mapping[int, int] | None, n_items: int, k: int) -> tuple[IntArray, IntArray]:
    if not gold:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    items = np.fromiter(gold.keys(), dtype=np.int64, count=len(gold))
    labels = np.fromiter(gold.values(), dtype=np.int64, count=len(gold))
    if ((items < 0) | (items >= n_items)).any():
        raise ValueError("gold item index out of range")
    if ((labels < 0) | (labels >= k)).any():
        raise ValueError("gold label out of range")
    return items, labels


def dawid_skene(
    matrix: ArrayLike,
    n_categories: int | None = None,
    *,
    gold: Mapping[int, int] | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> DawidSkeneResult:
    """Dawid & Skene (1979) latent-class model fitted by EM.

    Each annotator j has a confusion matrix theta_j[t, l] = P(says l | truth t); classes have
    prior pi. E-step: P(t | item i) is proportional to pi_t * prod_j theta_j[t, x_ij] over the
    judgements the item has (missing ones simply drop out). M-step: theta and pi are the
    posterior-weighted counts plus ``smoothing`` pseudo-counts (a symmetric Dirichlet prior, so
    an unseen (t, l) pair never gets probability 0 and log 0 never appears; this makes it MAP-EM;
    ``smoothing=0`` gives plain maximum likelihood, which can put zero mass on a class).

    Starts from the majority-vote shares (soft), as Dawid & Skene suggest. Stops when the
    log-likelihood per judgement improves by less than ``tol`` or after ``max_iter`` iterations.
    ``gold`` maps item row -> known label; those posteriors are clamped to one-hot throughout,
    so known items anchor the annotator confusion estimates.

    Both steps are sparse matrix products with the (items x annotator*K) indicator of
    judgements, so one iteration costs O(judgements * K).
    """
    m = validate_matrix(matrix)
    k = n_categories_of(m, n_categories)
    n_items, n_annotators = m.shape
    if k == 0:
        raise ValueError("no category codes: pass n_categories or a non-empty matrix")
    if smoothing < 0 or max_iter < 1:
        raise ValueError("smoothing must be >= 0 and max_iter >= 1")
    gold_items, gold_labels = _gold_arrays(gold, n_items, k)
    # Imported here so that loading this module (web processes do) does not load SciPy.
    from scipy import sparse

    rows, cols = np.nonzero(m != MISSING)
    codes = m[rows, cols]
    n_obs = len(rows)
    # indicator[i, j*K + l] = 1 iff annotator j said l on item i
    indicator = sparse.csr_array(
        (np.ones(n_obs), (rows, cols * k + codes)), shape=(n_items, n_annotators * k)
    )
    indicator_t = indicator.T.tocsr()
    judged = np.bincount(rows, minlength=n_items) > 0
    # Items with neither a judgement nor a gold label carry no evidence, so they stay out of pi.
    informative = judged.copy()
    informative[gold_items] = True
    informative_weight = informative.astype(np.float64)

    counts = category_counts(m, k).astype(np.float64)
    posteriors = np.full((n_items, k), 1.0 / k)
    posteriors[judged] = counts[judged] / counts[judged].sum(axis=1, keepdims=True)
    posteriors[gold_items] = np.eye(k)[gold_labels]

    log_lik = -np.inf
    converged = False
    n_iter = 0
    for iteration in range(1, max_iter + 1):
        n_iter = iteration
        # M-step: posterior-weighted counts plus the Dirichlet pseudo-counts.
        weighted = (indicator_t @ posteriors).reshape(n_annotators, k, k)  # [j, l, t]
        confusion = weighted.transpose(0, 2, 1) + smoothing
        confusion /= confusion.sum(axis=2, keepdims=True)
        priors = informative_weight @ posteriors + smoothing
        priors /= priors.sum()

        # E-step in log space: products of many small probabilities underflow.
        log_theta = np.log(confusion).transpose(0, 2, 1).reshape(n_annotators * k, k)
        joint = indicator @ log_theta + np.log(priors)
        peak = joint.max(axis=1, keepdims=True)
        posteriors = np.exp(joint - peak)
        total = posteriors.sum(axis=1, keepdims=True)
        posteriors /= total
        norm = (peak + np.log(total))[:, 0]
        # Gold items contribute their complete-data likelihood: the class is known.
        norm[gold_items] = joint[gold_items, gold_labels]
        posteriors[gold_items] = np.eye(k)[gold_labels]

        new_log_lik = float(norm[informative].sum())
        if abs(new_log_lik - log_lik) <= tol * max(n_obs, 1):
            log_lik = new_log_lik
            converged = True
            break
        log_lik = new_log_lik

    # Expected correct judgements of j = sum over j's judgements of P(truth = what j said).
    correct = np.bincount(cols, weights=posteriors[rows, codes], minlength=n_annotators)
    per_annotator = np.bincount(cols, minlength=n_annotators)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(per_annotator > 0, correct / per_annotator, np.nan)
    labels = np.argmax(posteriors, axis=1).astype(np.int64)
    confidence = posteriors.max(axis=1)
    # An item nobody judged has only the prior: keep that posterior but claim no label.
    unknown = ~judged
    unknown[gold_items] = False
    labels[unknown] = MISSING
    confidence[unknown] = np.nan
    return DawidSkeneResult(
        posteriors=posteriors,
        labels=labels,
        confidence=confidence,
        confusion=confusion,
        priors=priors,
        annotator_accuracy=accuracy,
        log_likelihood=log_lik,
        n_iter=n_iter,
        converged=converged,
    )


def gold_accuracy(matrix: ArrayLike, gold: Mapping[int, int]) -> FloatArray:
    """Per-annotator accuracy on the gold items they judged (NaN where they judged none).

    ``gold`` maps item row -> true code. Missing judgements are neither right nor wrong.
    """
    m = validate_matrix(matrix)
    items, labels = _gold_arrays(gold, m.shape[0], np.iinfo(np.int64).max)
    sub = m[items]
    judged = (sub != MISSING).sum(axis=0)
    correct = (sub == labels[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(judged > 0, correct / judged, np.nan)
