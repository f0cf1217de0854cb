"""Majority vote, Dawid-Skene and gold accuracy on hand-made and simulated data (no Django)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.aggregation import dawid_skene, gold_accuracy, majority_vote
from evaluation.agreement import MISSING

NA = MISSING


def simulate(seed, n_items, accuracies, k, p_missing=0.0):
    """Truth uniform over k classes; annotator j is right with probability accuracies[j], else
    picks one of the k - 1 wrong classes uniformly."""
    rng = np.random.default_rng(seed)
    accuracies = np.asarray(accuracies)
    truth = rng.integers(0, k, n_items)
    right = rng.random((n_items, len(accuracies))) < accuracies
    wrong = (truth[:, None] + rng.integers(1, k, (n_items, len(accuracies)))) % k
    m = np.where(right, truth[:, None], wrong)
    m[rng.random(m.shape) < p_missing] = MISSING
    return m, truth


# ---- majority vote -----------------------------------------------------------------------


def test_majority_vote_by_hand():
    m = np.array(
        [
            [0, 0, 1],  # 2 of 3 for 0
            [2, 1, NA],  # tie 1-1: lowest code wins
            [NA, NA, NA],  # no vote
            [1, 1, 1],
            [2, NA, NA],
        ]
    )
    vote = majority_vote(m, 3)
    assert vote.labels.tolist() == [0, 1, NA, 1, 2]
    assert vote.confidence[[0, 1, 3, 4]] == pytest.approx([2 / 3, 1 / 2, 1, 1])
    assert np.isnan(vote.confidence[2])
    assert vote.tied.tolist() == [False, True, False, False, False]
    assert vote.n_votes.tolist() == [3, 2, 0, 3, 1]


def test_majority_vote_tie_break_ignores_annotator_order():
    m = np.array([[3, 1], [1, 3]])
    assert majority_vote(m).labels.tolist() == [1, 1]


# ---- Dawid-Skene --------------------------------------------------------------------------

PLANTED = [0.95, 0.85, 0.75, 0.6, 0.55]


@pytest.mark.parametrize(("seed", "p_missing"), [(0, 0.0), (1, 0.0), (2, 0.3)])
def test_dawid_skene_recovers_planted_accuracies(seed, p_missing):
    m, truth = simulate(seed, 2000, PLANTED, k=4, p_missing=p_missing)
    result = dawid_skene(m, 4)
    assert result.converged
    assert result.annotator_accuracy == pytest.approx(PLANTED, abs=0.05)
    # Confusion diagonals are the class-conditional accuracies: the same numbers, per class.
    diagonals = np.einsum("jkk->jk", result.confusion)
    assert diagonals == pytest.approx(np.repeat([PLANTED], 4, axis=0).T, abs=0.08)
    ds_accuracy = (result.labels == truth).mean()
    mv_accuracy = (majority_vote(m, 4).labels == truth).mean()
    assert ds_accuracy > mv_accuracy + 0.01


def test_dawid_skene_outputs_are_distributions():
    m, _ = simulate(5, 500, [0.8, 0.7, 0.6], k=3, p_missing=0.2)
    m[0] = MISSING  # an item nobody judged
    result = dawid_skene(m, 3)
    assert result.posteriors.sum(axis=1) == pytest.approx(np.ones(len(m)))
    assert result.confusion.sum(axis=2) == pytest.approx(np.ones((3, 3)))
    assert result.priors.sum() == pytest.approx(1.0)
    judged = (m != MISSING).any(axis=1)
    assert result.confidence[judged] == pytest.approx(result.posteriors[judged].max(axis=1))
    # No evidence: posterior is the prior, and no label is claimed.
    assert result.posteriors[~judged] == pytest.approx(np.tile(result.priors, ((~judged).sum(), 1)))
    assert (result.labels[~judged] == MISSING).all()
    assert np.isnan(result.confidence[~judged]).all()


def test_dawid_skene_unanimous_data():
    m = np.array([[0, 0, 0], [1, 1, 1], [2, 2, NA], [1, NA, 1]])
    result = dawid_skene(m, 3)
    assert result.labels.tolist() == [0, 1, 2, 1]
    assert (result.confidence > 0.9).all()


def test_gold_clamping_breaks_label_switching():
    # Two reliable annotators outvoted by three who answer the opposite 80 % of the time:
    # majority vote is mostly wrong and unsupervised EM settles on the mirrored solution.
    m, truth = simulate(0, 1000, [0.9, 0.9, 0.2, 0.2, 0.2], k=2)
    free = dawid_skene(m, 2)
    assert (free.labels == truth).mean() < 0.2
    gold = {i: int(truth[i]) for i in range(100)}
    clamped = dawid_skene(m, 2, gold=gold)
    assert (clamped.labels[100:] == truth[100:]).mean() > 0.9
    assert clamped.annotator_accuracy == pytest.approx([0.9, 0.9, 0.2, 0.2, 0.2], abs=0.05)
    # Gold posteriors are exactly one-hot on the known label.
    assert (clamped.posteriors[:100] == np.eye(2)[truth[:100]]).all()


def test_gold_clamping_overrides_unanimous_annotators():
    m = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 1]])
    result = dawid_skene(m, 2, gold={0: 1})
    assert result.labels[0] == 1
    assert result.posteriors[0].tolist() == [0.0, 1.0]


def test_gold_validation():
    m = np.array([[0, 1], [1, 1]])
    with pytest.raises(ValueError):
        dawid_skene(m, 2, gold={5: 0})
    with pytest.raises(ValueError):
        dawid_skene(m, 2, gold={0: 2})


# ---- gold accuracy -----------------------------------------------------------------------


def test_gold_accuracy_by_hand():
    m = np.array(
        [
            [0, 1, NA],
            [1, 1, NA],
            [2, NA, NA],
            [0, 0, 1],  # not gold
        ]
    )
    accuracy = gold_accuracy(m, {0: 0, 1: 1, 2: 1})
    # annotator 0: right on 0 and 1, wrong on 2 -> 2/3; annotator 1: wrong, right -> 1/2;
    # annotator 2: judged no gold item -> NaN.
    assert accuracy[:2] == pytest.approx([2 / 3, 1 / 2])
    assert np.isnan(accuracy[2])


def test_gold_accuracy_matches_simulation():
    m, truth = simulate(3, 3000, [0.9, 0.6], k=3, p_missing=0.1)
    gold = {i: int(truth[i]) for i in range(0, 3000, 2)}
    assert gold_accuracy(m, gold) == pytest.approx([0.9, 0.6], abs=0.03)
