"""Agreement coefficients against published figures, independent code and hand derivations.

Pure NumPy tests: no Django. Reference values are either published (cited next to each data
set), computed by another library (scikit-learn, statsmodels), computed by the brute-force
loop implementations below written straight from the papers' definitions, or derived by hand
in the comments.
"""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from evaluation.agreement import (
    MISSING,
    agreement_report,
    category_counts,
    cohen_kappa_matrix,
    coincidence_matrix,
    disagreement_items,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    pairwise_confusion,
    percent_agreement,
    prevalence_skew,
    specific_agreement,
)

NA = MISSING

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 observers x 12 units
# example with missing values (values 1..5, coded 0..4 here); also Gwet (2014), Handbook of
# Inter-Rater Reliability, 4th ed., p. 120 ("cac.raw4raters" in Gwet's irrCAC package).
KRIPPENDORFF_2011 = (
    np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3],
            [0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0],
        ]
    ).T
    - 1
)

# Gwet (2014), 5 observers x 15 units on a 0..3 scale ("cac.raw5obser" in irrCAC).
GWET_5_OBSERVERS = np.array(
    [
        [1, 1, 2, NA, 0, 0, 1, 1, 2, 2, NA, 0, 1, 3, 1],
        [1, 1, 3, 0, 0, 0, 0, NA, 2, 1, 1, 0, 2, 3, 1],
        [2, 0, 3, 0, 0, 0, 2, 2, 2, 1, 0, 0, 2, 2, 1],
        [NA, 1, 3, NA, NA, NA, NA, 0, NA, 1, 0, 0, 2, 2, NA],
        [2, NA, NA, 0, 0, 0, 1, NA, 2, NA, NA, NA, NA, 3, 1],
    ]
).T

# Krippendorff (2011), binary data, two observers, 10 units: alpha = 0.095.
BINARY_2_CODERS = np.array([[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]).T

# Fleiss (1971) psychiatric diagnoses, 30 patients x 6 raters, 5 categories (the "diagnoses"
# data of R's irr package); Fleiss' kappa = 0.4302 (irr::kappam.fleiss = 0.4302445).
FLEISS_1971 = (
    np.array(
        [
            [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
            [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
            [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
            [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
            [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
            [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
            [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
            [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
        ]
    )
    - 1
)  # fmt: skip

# Wikipedia "Fleiss' kappa" worked example: count table, 10 items x 14 raters; kappa = 0.210.
WIKIPEDIA_FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
)  # fmt: skip


def matrix_from_table(table: np.ndarray) -> np.ndarray:
    """Items x raters matrix whose count table is ``table`` (rater identity is irrelevant)."""
    return np.array([np.repeat(np.arange(table.shape[1]), row) for row in table])


# ---- brute-force references, written from the definitions with plain loops -----------------


def brute_alpha(matrix: np.ndarray, level: str, values=None) -> float:
    """Krippendorff (2011) step by step: enumerate pairable value pairs per unit."""
    k = matrix.max() + 1
    v = np.arange(k, dtype=float) if values is None else np.asarray(values, float)
    o = np.zeros((k, k))
    for row in matrix:
        vals = [x for x in row if x != MISSING]
        if len(vals) < 2:
            continue
        for i, j in permutations(range(len(vals)), 2):
            o[vals[i], vals[j]] += 1.0 / (len(vals) - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()

    def delta2(c: int, d: int) -> float:
        if level == "nominal":
            return float(c != d)
        if level == "interval":
            return (v[c] - v[d]) ** 2
        if level == "ratio":
            return 0.0 if v[c] + v[d] == 0 else ((v[c] - v[d]) / (v[c] + v[d])) ** 2
        lo, hi = min(c, d), max(c, d)
        return (sum(n_c[g] for g in range(lo, hi + 1)) - (n_c[c] + n_c[d]) / 2) ** 2

    do = sum(o[c, d] * delta2(c, d) for c in range(k) for d in range(k))
    de = sum(n_c[c] * n_c[d] * delta2(c, d) for c in range(k) for d in range(k))
    return 1 - (n - 1) * do / de


def brute_gwet(matrix: np.ndarray, q: int) -> tuple[float, float, float]:
    """(p_a, Fleiss kappa, AC1) from Gwet (2014)'s missing-data formulas, item by item."""
    pa_terms, shares = [], []
    for row in matrix:
        vals = [x for x in row if x != MISSING]
        r = len(vals)
        if r >= 1:
            shares.append([vals.count(c) / r for c in range(q)])
        if r >= 2:
            pa_terms.append(
                sum(vals.count(c) * (vals.count(c) - 1) for c in range(q)) / (r * (r - 1))
            )
    pa = sum(pa_terms) / len(pa_terms)
    pi = np.mean(shares, axis=0)
    pe_fleiss = float((pi**2).sum())
    pe_ac1 = float((pi * (1 - pi)).sum() / (q - 1))
    return pa, (pa - pe_fleiss) / (1 - pe_fleiss), (pa - pe_ac1) / (1 - pe_ac1)


def random_matrix(seed: int, n_items=60, n_annotators=4, k=4, p_missing=0.3, p_agree=0.6):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    m = np.where(rng.random((n_items, n_annotators)) < p_agree, truth[:, None],
                 rng.integers(0, k, (n_items, n_annotators)))  # fmt: skip
    m[rng.random(m.shape) < p_missing] = MISSING
    return m


# ---- Krippendorff's alpha ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "values", "expected"),
    [
        ("nominal", None, 0.743),
        ("ordinal", None, 0.815),
        ("interval", None, 0.849),
        ("ratio", [1, 2, 3, 4, 5], 0.797),
    ],
)
def test_alpha_krippendorff_2011_example(level, values, expected):
    assert krippendorff_alpha(KRIPPENDORFF_2011, level, values=values) == pytest.approx(
        expected, abs=5e-4
    )


def test_alpha_binary_two_coders_published():
    assert krippendorff_alpha(BINARY_2_CODERS) == pytest.approx(0.095, abs=5e-4)
    # Hand: o_00 = 10, o_01 = o_10 = 4, o_11 = 2, n = 20: alpha = 1 - 19 * 4 / (14 * 6) = 8/84.
    assert krippendorff_alpha(BINARY_2_CODERS) == pytest.approx(8 / 84)
    assert coincidence_matrix(BINARY_2_CODERS) == pytest.approx(np.array([[10, 4], [4, 2]]))


def test_alpha_gwet_5_observers():
    # Gwet (2014) / irrCAC krippen.alpha.raw: 0.481 (nominal).
    assert krippendorff_alpha(GWET_5_OBSERVERS) == pytest.approx(0.481, abs=5e-4)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_brute_force(seed, level):
    m = random_matrix(seed)
    values = [1.0, 2.0, 4.0, 7.0] if level in ("interval", "ratio") else None
    assert krippendorff_alpha(m, level, values=values) == pytest.approx(
        brute_alpha(m, level, values), rel=1e-10
    )


def test_alpha_ignores_coder_identity_and_single_judgements():
    m = random_matrix(3)
    rng = np.random.default_rng(0)
    shuffled = rng.permuted(m, axis=1)  # values move between coders within each item
    single = np.full((5, m.shape[1]), MISSING)
    single[:, 0] = [0, 1, 2, 3, 0]  # not pairable: must not change alpha
    for level in ("nominal", "ordinal", "interval"):
        a = krippendorff_alpha(m, level)
        assert krippendorff_alpha(shuffled, level) == pytest.approx(a)
        assert krippendorff_alpha(np.vstack([m, single]), level, n_categories=4) == pytest.approx(a)
    assert percent_agreement(np.vstack([m, single])) == pytest.approx(percent_agreement(m))


# ---- Fleiss, AC1, percent agreement ------------------------------------------------------


def test_fleiss_1971_diagnoses():
    assert fleiss_kappa(FLEISS_1971) == pytest.approx(0.4302445, abs=1e-7)
    table, _ = aggregate_raters(FLEISS_1971)
    assert fleiss_kappa(FLEISS_1971) == pytest.approx(sm_fleiss_kappa(table))


def test_fleiss_wikipedia_table_and_count_table():
    m = matrix_from_table(WIKIPEDIA_FLEISS_TABLE)
    assert (category_counts(m, 5) == WIKIPEDIA_FLEISS_TABLE).all()
    assert fleiss_kappa(m) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(m) == pytest.approx(sm_fleiss_kappa(WIKIPEDIA_FLEISS_TABLE))


def test_gwet_published_examples():
    # Gwet (2014) p. 120 data: p_a = 0.818, AC1 = 0.775, Fleiss (generalised) = 0.761.
    assert percent_agreement(KRIPPENDORFF_2011) == pytest.approx(0.818, abs=5e-4)
    assert gwet_ac1(KRIPPENDORFF_2011) == pytest.approx(0.775, abs=5e-4)
    assert fleiss_kappa(KRIPPENDORFF_2011) == pytest.approx(0.761, abs=5e-4)
    # 5 observers: p_a = 0.616, AC1 = 0.497, Fleiss = 0.458.
    assert percent_agreement(GWET_5_OBSERVERS) == pytest.approx(0.616, abs=5e-4)
    assert gwet_ac1(GWET_5_OBSERVERS) == pytest.approx(0.497, abs=5e-4)
    assert fleiss_kappa(GWET_5_OBSERVERS) == pytest.approx(0.458, abs=5e-4)


@pytest.mark.parametrize("seed", range(5))
def test_gwet_family_matches_brute_force(seed):
    m = random_matrix(seed, k=5)
    pa, kappa, ac1 = brute_gwet(m, 5)
    assert percent_agreement(m) == pytest.approx(pa)
    assert fleiss_kappa(m, 5) == pytest.approx(kappa)
    assert gwet_ac1(m, 5) == pytest.approx(ac1)


@pytest.mark.parametrize("seed", range(3))
def test_two_annotators_with_missing_match_brute_force(seed):
    m = random_matrix(seed, n_items=40, n_annotators=2, k=3, p_missing=0.25)
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(m, level) == pytest.approx(brute_alpha(m, level))
    pa, kappa, ac1 = brute_gwet(m, 3)
    assert (percent_agreement(m), fleiss_kappa(m, 3), gwet_ac1(m, 3)) == pytest.approx(
        (pa, kappa, ac1)
    )


def test_two_coder_binary_by_hand():
    # Mary/Dave: 5 both-0, 1 both-1, 3 (0,1), 1 (1,0): p_a = 0.6; p(Mary=1) = .2, p(Dave=1) = .4.
    m = BINARY_2_CODERS
    assert percent_agreement(m) == pytest.approx(0.6)
    # Cohen: p_e = .8 * .6 + .2 * .4 = .56 -> (0.6 - .56) / .44 = 1/11.
    assert cohen_kappa_matrix(m)[0, 1] == pytest.approx(1 / 11)
    # Scott/Fleiss: pi_1 = .3, p_e = .58 -> .02 / .42 = 1/21.
    assert fleiss_kappa(m) == pytest.approx(1 / 21)
    # AC1: p_e = 2 * .3 * .7 = .42 -> .18 / .58 = 9/29.
    assert gwet_ac1(m) == pytest.approx(9 / 29)


# ---- Cohen's kappa -----------------------------------------------------------------------


def test_cohen_matrix_against_sklearn_on_coannotated_items():
    m = random_matrix(11, n_items=80, n_annotators=4, k=3, p_missing=0.35)
    kappas = cohen_kappa_matrix(m, 3)
    for a in range(4):
        assert np.isnan(kappas[a, a])
        for b in range(4):
            if a == b:
                continue
            pairs = [(x, y) for x, y in zip(m[:, a], m[:, b], strict=True) if x >= 0 and y >= 0]
            expected = cohen_kappa_score([p[0] for p in pairs], [p[1] for p in pairs])
            assert kappas[a, b] == pytest.approx(expected)


def test_cohen_nan_when_pair_shares_too_few_items():
    m = np.array([[0, MISSING, 1], [1, MISSING, 1], [MISSING, 0, 0], [0, 1, 0]])
    kappas = cohen_kappa_matrix(m)
    assert np.isnan(kappas[0, 1]) and np.isnan(kappas[1, 0])  # share one item
    assert not np.isnan(kappas[0, 2])


# ---- edge cases --------------------------------------------------------------------------


def test_perfect_agreement():
    m = np.array([[0, 0, 0], [1, 1, MISSING], [2, 2, 2], [1, MISSING, 1], [0, 0, 0]])
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(m, level) == pytest.approx(1.0)
    assert fleiss_kappa(m) == pytest.approx(1.0)
    assert gwet_ac1(m) == pytest.approx(1.0)
    assert percent_agreement(m) == 1.0
    assert np.nanmin(cohen_kappa_matrix(m)) == pytest.approx(1.0)
    assert disagreement_items(m).size == 0
    assert specific_agreement(m) == pytest.approx(np.ones(3))


def test_one_category_only():
    m = np.zeros((6, 3), dtype=int)
    m[0, 2] = MISSING
    assert np.isnan(krippendorff_alpha(m, n_categories=2))
    assert np.isnan(fleiss_kappa(m, 2))
    assert np.isnan(cohen_kappa_matrix(m, 2)).all()
    # AC1 stays defined: pi = (1, 0), p_e = 0, so AC1 = p_a = 1.
    assert gwet_ac1(m, 2) == pytest.approx(1.0)
    report = agreement_report(m, ["yes", "no"], n_resamples=50)
    assert report["krippendorff_alpha"]["value"] is None
    assert "one category" in report["krippendorff_alpha"]["reason"]
    assert report["fleiss_kappa"]["value"] is None
    assert report["gwet_ac1"]["value"] == pytest.approx(1.0)
    json.dumps(report, allow_nan=False)


def test_nothing_pairable():
    m = np.array([[0, MISSING], [MISSING, 1], [MISSING, MISSING]])
    assert np.isnan(krippendorff_alpha(m))
    assert np.isnan(percent_agreement(m))
    assert np.isnan(gwet_ac1(m))
    report = agreement_report(m, ["a", "b"], n_resamples=10)
    assert report["krippendorff_alpha"]["reason"].startswith("no item has two")
    assert report["n_pairable_items"] == 0 and report["n_single_judgement_items"] == 2


# ---- per-label ---------------------------------------------------------------------------


def test_confusion_and_specific_agreement_two_coders():
    confusion = pairwise_confusion(BINARY_2_CODERS)
    # 5 (0,0) items -> 10 ordered agreeing pairs; 4 disagreements -> 4 each way; 1 (1,1) -> 2.
    assert confusion.tolist() == [[10, 4], [4, 2]]
    # Positive/negative agreement 2a / (2a + b + c): 10/14 for 0, 2/6 for 1.
    assert specific_agreement(BINARY_2_CODERS) == pytest.approx([10 / 14, 2 / 6])


def test_confusion_counts_all_ordered_pairs():
    m = random_matrix(5, k=3)
    confusion = pairwise_confusion(m, 3)
    n_per_item = (m != MISSING).sum(axis=1)
    assert (confusion == confusion.T).all()
    assert confusion.sum() == (n_per_item * (n_per_item - 1)).sum()


def test_disagreement_items():
    m = np.array(
        [
            [0, 0, 0],
            [0, 1, MISSING],
            [MISSING, 2, MISSING],
            [MISSING] * 3,
            [2, MISSING, 2],
            [1, 2, 1],
        ]
    )
    assert disagreement_items(m).tolist() == [1, 5]


def test_prevalence_skew_and_kappa_paradox():
    # 100 items, 2 coders: 90 both "0", 5 (0,1), 5 (1,0): 90 % agreement, all on one label.
    m = np.array([[0, 0]] * 90 + [[0, 1]] * 5 + [[1, 0]] * 5)
    skew = prevalence_skew(m)
    assert skew["skewed"] and skew["dominant_category"] == 0
    assert skew["dominant_share"] == pytest.approx(0.95)
    # Paradox: kappa is negative (p_e = .95^2 + .05^2 = .905 > p_a = .9) while AC1 is high.
    assert fleiss_kappa(m) < 0 < 0.85 < gwet_ac1(m)
    assert not prevalence_skew(KRIPPENDORFF_2011)["skewed"]
