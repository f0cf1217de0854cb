"""Multi-label agreement: set-distance alpha against NLTK's AnnotationTask (an independent,
loop-based implementation), per-label yes/no figures against NLTK and scikit-learn, and the
stored report of a multi-label batch."""

from __future__ import annotations

import random

import numpy as np
import pytest
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import binary_distance, jaccard_distance, masi_distance
from sklearn.metrics import cohen_kappa_score

from annotation.models import Annotation, Batch
from annotation.services import labelling
from evaluation.agreement import MISSING, gwet_ac1, reliability_matrix
from evaluation.agreement.multilabel import (
    multilabel_report,
    presence_matrix,
    set_distance,
    set_distance_matrix,
)
from evaluation.services import agreement as services
from tests.evaluation.test_agreement_service import (
    add_annotators,
    label_all,
    make_items,
    make_schema,
)

LABELS = ["a", "b", "c", "d"]


def simulated(seed: int, n_items=40, n_annotators=3, p_missing=0.15, p_change=0.3):
    """(coder, item, frozenset) triples: a true set per item, each coder toggling one label
    now and then; never an empty set (NLTK's distances divide by zero on two empty sets)."""
    rng = random.Random(seed)
    rows = []
    for item in range(n_items):
        truth = frozenset(label for label in LABELS if rng.random() < 0.4) or frozenset("a")
        for coder in range(n_annotators):
            if rng.random() < p_missing:
                continue
            answer = set(truth)
            if rng.random() < p_change:
                answer ^= {rng.choice(LABELS)}
            rows.append((f"c{coder}", item, frozenset(answer or {"b"})))
    return rows


def as_matrix(rows):
    sets = sorted({r[2] for r in rows}, key=sorted)
    code = {s: i for i, s in enumerate(sets)}
    m, items, coders = reliability_matrix(
        [r[1] for r in rows], [r[0] for r in rows], [code[r[2]] for r in rows]
    )
    return m, sets


@pytest.mark.parametrize("seed", range(4))
def test_set_alpha_matches_nltk_masi_and_jaccard(seed):
    rows = simulated(seed)
    m, sets = as_matrix(rows)
    report = multilabel_report(m, sets, LABELS, n_resamples=100)
    masi = AnnotationTask(data=rows, distance=masi_distance).alpha()
    jaccard = AnnotationTask(data=rows, distance=jaccard_distance).alpha()
    assert report["krippendorff_alpha"]["value"] == pytest.approx(masi, rel=1e-9)
    assert report["krippendorff_alpha_jaccard"]["value"] == pytest.approx(jaccard, rel=1e-9)
    ci = report["krippendorff_alpha"]["ci"]
    assert ci["low"] <= report["krippendorff_alpha"]["value"] <= ci["high"]


def test_set_distances_by_hand():
    ab, abcd, ac, cd = (frozenset(s) for s in ("ab", "abcd", "ac", "cd"))
    assert set_distance(ab, ab) == 0
    # Subset: Jaccard 2/4, monotonicity 2/3 -> 1 - 1/3.
    assert set_distance(ab, abcd) == pytest.approx(1 - 1 / 3)
    # Overlap: Jaccard 1/3, monotonicity 1/3 -> 1 - 1/9.
    assert set_distance(ab, ac) == pytest.approx(1 - 1 / 9)
    assert set_distance(ab, cd) == 1
    assert set_distance(ab, ac, "jaccard") == pytest.approx(2 / 3)
    # "No label applies" said twice is agreement.
    assert set_distance(frozenset(), frozenset()) == 0
    assert set_distance(frozenset(), ab) == 1
    d = set_distance_matrix([ab, ac, cd])
    assert np.allclose(d, d.T) and np.allclose(np.diag(d), 0)


def test_per_label_figures_match_binary_references():
    rows = simulated(7, n_items=60, n_annotators=3)
    m, sets = as_matrix(rows)
    report = multilabel_report(m, sets, LABELS, n_resamples=50)
    for row, label in zip(report["per_label"], LABELS, strict=True):
        present = [(c, i, label in s) for c, i, s in rows]
        nltk_alpha = AnnotationTask(data=present, distance=binary_distance).alpha()
        assert row["krippendorff_alpha"]["value"] == pytest.approx(nltk_alpha, rel=1e-9)
        yes_no = presence_matrix(m, sets, label)
        assert row["gwet_ac1"]["value"] == pytest.approx(gwet_ac1(yes_no, 2))
        assert row["n_present"] == sum(p for *_, p in present)
        # Cohen's kappa of the first pair, on the items both judged.
        both = (yes_no[:, 0] != MISSING) & (yes_no[:, 1] != MISSING)
        first_pair = cohen_kappa_score(yes_no[both, 0], yes_no[both, 1])
        kappas = []
        for a, b in ((0, 1), (0, 2), (1, 2)):
            on = (yes_no[:, a] != MISSING) & (yes_no[:, b] != MISSING)
            kappas.append(cohen_kappa_score(yes_no[on, a], yes_no[on, b]))
        assert kappas[0] == pytest.approx(first_pair)
        assert row["cohen_kappa_mean"] == pytest.approx(np.mean(kappas))
    means = report["label_mean"]["krippendorff_alpha"]
    expected = np.mean([r["krippendorff_alpha"]["value"] for r in report["per_label"]])
    assert means["value"] == pytest.approx(expected) and means["n_labels_defined"] == 4


def test_perfect_and_edge_cases():
    rows = [(c, i, frozenset("ab" if i % 2 else "c")) for i in range(6) for c in ("x", "y")]
    m, sets = as_matrix(rows)
    report = multilabel_report(m, sets, LABELS, n_resamples=20)
    assert report["krippendorff_alpha"]["value"] == pytest.approx(1.0)
    assert report["percent_agreement"]["value"] == pytest.approx(1.0)
    assert report["disagreement"]["n_items"] == 0
    # Label "d" is never chosen: its alpha is undefined, its AC1 is perfect agreement on "no".
    d = report["per_label"][3]
    assert d["krippendorff_alpha"]["value"] is None and d["krippendorff_alpha"]["reason"]
    assert d["gwet_ac1"]["value"] == pytest.approx(1.0)
    assert report["label_mean"]["krippendorff_alpha"]["n_labels_defined"] == 3
    # One judgement per item: nothing to compare.
    lonely, lonely_sets = as_matrix([("x", i, frozenset("a")) for i in range(3)])
    empty = multilabel_report(lonely, lonely_sets, LABELS, n_resamples=10)
    assert empty["krippendorff_alpha"]["value"] is None
    assert empty["n_pairable_items"] == 0


@pytest.mark.django_db
def test_multi_label_batch_report_is_stored_and_gated_on_masi_alpha(
    project, manager, annotator, django_capture_on_commit_callbacks
):
    schema = make_schema(project, "multi", labels=("claim", "opinion", "joke"))
    items = make_items(project, 8)
    other = add_annotators(project, 1)[0]
    labelling.batch_create(
        project=project, by=manager, name="m", items=[i.pk for i in items], overlap=2, is_open=True
    )

    def answer(user, item):
        chosen = ["claim"] if item.position % 2 else ["opinion", "claim"]
        if user == other and item.position % 4 == 0:
            chosen = ["opinion"]
        return chosen

    label_all(project, [annotator, other], answer)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.agreement_report_request(batch=Batch.objects.get(), by=manager)
    report.refresh_from_db()
    results = report.results
    assert report.status == "done" and results["multi_label"] is True
    assert [row["category"] for row in results["per_label"]] == ["claim", "opinion", "joke"]
    # The expected figure from NLTK on the raw Annotation rows, not on our matrix.
    raw = Annotation.objects.filter(batch_item__batch__project=project)
    rows = [
        (user_id, item_id, frozenset(answer))
        for item_id, user_id, answer in raw.values_list("item_id", "annotator_id", "answer")
    ]
    expected = AnnotationTask(data=rows, distance=masi_distance).alpha()
    assert report.alpha == pytest.approx(expected)
    assert results["krippendorff_alpha"]["level"] == "masi"
    assert report.gwet_ac1 == pytest.approx(results["label_mean"]["gwet_ac1"]["value"])
    listed = results["disagreement"]["items"]
    assert len(listed) == 2  # items 0 and 4
    assert {a["answer"] for a in listed[0]["answers"]} == {"claim, opinion", "opinion"}
    assert schema.task_type == "multi"


@pytest.mark.parametrize("metric", ["masi", "jaccard"])
def test_distance_matrix_matches_pairwise_definition(metric):
    rng = random.Random(5)
    sets = list({frozenset(x for x in "abcdef" if rng.random() < 0.4) for _ in range(40)})
    table = set_distance_matrix(sets, metric)
    nltk_distance = masi_distance if metric == "masi" else jaccard_distance
    for i, a in enumerate(sets):
        for j, b in enumerate(sets):
            expected = set_distance(a, b, metric)
            assert table[i, j] == pytest.approx(expected)
            if a or b:
                assert table[i, j] == pytest.approx(nltk_distance(set(a), set(b)))
