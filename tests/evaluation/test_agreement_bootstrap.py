"""Agreement on a reliability matrix, continued: building the matrix, the item bootstrap and the
JSON report. Data sets and brute-force references are shared with test_agreement.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation.agreement import (
    MISSING,
    agreement_report,
    bootstrap_ci,
    category_counts,
    disagreement_items,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    pairwise_confusion,
    reliability_matrix,
)
from tests.evaluation.test_agreement import (
    BINARY_2_CODERS,
    KRIPPENDORFF_2011,
    random_matrix,
)

NA = MISSING


# ---- matrix building ---------------------------------------------------------------------


def test_reliability_matrix_from_flat_rows():
    rng = np.random.default_rng(2)
    m = random_matrix(2, n_items=30, n_annotators=3)
    items, annotators = np.nonzero(m != MISSING)
    item_ids = np.array([f"item-{i:03d}" for i in items])
    annotator_ids = np.array([100 + a for a in annotators])
    order = rng.permutation(len(items))  # database order is arbitrary
    built, item_index, annotator_index = reliability_matrix(
        item_ids[order], annotator_ids[order], m[items, annotators][order]
    )
    present = (m != MISSING).any(axis=1)  # items with no judgement never reach the query
    assert (built == m[present]).all()
    assert item_index.tolist() == [f"item-{i:03d}" for i in np.flatnonzero(present)]
    assert annotator_index.tolist() == [100, 101, 102]


def test_reliability_matrix_duplicates():
    with pytest.raises(ValueError, match="repeated"):
        reliability_matrix([1, 1, 2], ["a", "a", "b"], [0, 1, 1])
    built, _, _ = reliability_matrix(
        [1, 1, 2, 1], ["a", "a", "b", "a"], [0, 1, 1, 2], duplicates="last"
    )
    assert built.tolist() == [[2, MISSING], [MISSING, 1]]


def test_category_counts_matches_loop():
    m = random_matrix(8, k=4)
    expected = [[list(row).count(c) for c in range(4)] for row in m]
    assert category_counts(m, 4).tolist() == expected


# ---- bootstrap ---------------------------------------------------------------------------


@pytest.mark.parametrize("statistic", ["krippendorff_alpha", "gwet_ac1"])
def test_bootstrap_contains_estimate_and_narrows_with_items(statistic):
    small = random_matrix(21, n_items=200, n_annotators=3, k=4)
    large = random_matrix(21, n_items=5000, n_annotators=3, k=4)
    ci_small = bootstrap_ci(small, statistic, 500, seed=1)
    ci_large = bootstrap_ci(large, statistic, 500, seed=1)
    for ci in (ci_small, ci_large):
        assert ci.low <= ci.estimate <= ci.high
        assert ci.n_valid == 500
    assert (ci_large.high - ci_large.low) < (ci_small.high - ci_small.low) / 3


def test_bootstrap_reproducible_and_ordinal():
    m = random_matrix(4, n_items=300)
    a = bootstrap_ci(m, "alpha", 200, seed=7, level="ordinal")
    b = bootstrap_ci(m, "alpha", 200, seed=7, level="ordinal")
    assert a == b
    assert a.estimate == pytest.approx(krippendorff_alpha(m, "ordinal"))
    assert a.low <= a.estimate <= a.high


@pytest.mark.parametrize(
    ("n_annotators", "k"),
    [(3, 4), (20, 10)],  # few patterns: multinomial path; nearly unique rows: index path
)
def test_fast_bootstrap_agrees_with_generic_loop(n_annotators, k):
    m = random_matrix(9, n_items=400, n_annotators=n_annotators, k=k, p_missing=0.2)
    fast = bootstrap_ci(m, "alpha", 2000, seed=3, n_categories=k)
    slow = bootstrap_ci(m, lambda x: krippendorff_alpha(x, n_categories=k), 2000, seed=4)
    assert fast.estimate == pytest.approx(slow.estimate)
    width = slow.high - slow.low
    assert fast.low == pytest.approx(slow.low, abs=0.1 * width)
    assert fast.high == pytest.approx(slow.high, abs=0.1 * width)


def test_bootstrap_undefined_statistic():
    ci = bootstrap_ci(np.zeros((20, 2), dtype=int), "alpha", 50, seed=0, n_categories=2)
    assert np.isnan(ci.estimate) and np.isnan(ci.low) and ci.n_valid == 0
    assert ci.as_dict()["low"] is None


# ---- report ------------------------------------------------------------------------------


def test_agreement_report_matches_functions_and_serialises():
    categories = ["1", "2", "3", "4", "5"]
    report = agreement_report(KRIPPENDORFF_2011, categories, level="ordinal", n_resamples=300)
    json.dumps(report, allow_nan=False)
    assert report["n_items"] == 12 and report["n_annotators"] == 4
    assert report["n_judgements"] == 41 and report["n_single_judgement_items"] == 1
    alpha = report["krippendorff_alpha"]
    assert alpha["value"] == pytest.approx(krippendorff_alpha(KRIPPENDORFF_2011, "ordinal"))
    assert alpha["ci"]["low"] <= alpha["value"] <= alpha["ci"]["high"]
    assert report["gwet_ac1"]["value"] == pytest.approx(gwet_ac1(KRIPPENDORFF_2011))
    assert report["fleiss_kappa"]["value"] == pytest.approx(fleiss_kappa(KRIPPENDORFF_2011))
    assert report["percent_agreement"]["value"] == pytest.approx(0.818, abs=5e-4)
    assert report["cohen_kappa"]["pairwise"][0][0] is None
    assert [row["category"] for row in report["per_label"]] == categories
    assert report["confusion"]["pairs"] == pairwise_confusion(KRIPPENDORFF_2011).tolist()
    assert report["disagreement"]["items"] == disagreement_items(KRIPPENDORFF_2011).tolist()
    assert report["prevalence_skew"]["skewed"] is False
    assert report["bootstrap"]["method"] == "percentile"


def test_report_rejects_unknown_level_and_out_of_range_codes():
    with pytest.raises(ValueError):
        agreement_report(BINARY_2_CODERS, ["a", "b"], level="cardinal")
    with pytest.raises(ValueError):
        agreement_report(KRIPPENDORFF_2011, ["a", "b"])
