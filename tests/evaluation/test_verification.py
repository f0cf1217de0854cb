"""Tests of the verification core (evaluation.verification). Pure: no Django, no DB.

Run: .venv/bin/python -m pytest tests/evaluation -p no:django -q
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_classification

from evaluation.verification.embed import Encoder, text_cache_key
from evaluation.verification.issues import (
    entropy,
    error_pairs,
    find_suspicious_labels,
    uncertainty_order,
)
from evaluation.verification.plots import confusion_matrix_svg, learning_curve_svg
from evaluation.verification.train import (
    LearningCurvePoint,
    cross_validate,
    learning_curve,
    learning_curve_trend,
    read_learning_curve,
)


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)  # rows are unit-norm


# --------------------------------------------------------------------------- embeddings


def test_encode_shape_dtype_unit_norm(encoder: Encoder) -> None:
    texts = ["Hello world.", "The invoice was wrong.", "", "ok", "A much longer sentence " * 5]
    v = encoder.encode(texts)
    assert v.shape == (5, 384)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_semantic_similarity(encoder: Encoder) -> None:
    a, b, c, d, e = encoder.encode(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The stock market fell sharply today.",
            "I forgot my password and cannot log in.",
            "How do I reset my account password?",
        ]
    )
    assert _cos(a, b) > _cos(a, c) + 0.3
    assert _cos(d, e) > _cos(d, c) + 0.3
    assert _cos(d, e) > _cos(a, e)


def test_order_preserved_despite_length_sorting(encoder: Encoder) -> None:
    # Lengths deliberately out of order so the longest-first batching reorders them.
    texts = [
        "short",
        "a considerably longer sentence about shipping delays and refunds",
        "mid length sentence here",
        "x",
        "another quite long sentence that talks about the weather in Berlin today",
    ]
    together = encoder.encode(texts, batch_size=2)
    one_by_one = np.vstack([encoder.encode([t], batch_size=1) for t in texts])
    # Padding is masked out, so batching changes nothing beyond float round-off.
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_same_text_same_vector(encoder: Encoder) -> None:
    v = encoder.encode(["the parcel is late", "something else", "the parcel is late"])
    np.testing.assert_array_equal(v[0], v[2])
    again = encoder.encode(["unrelated filler text that is longer", "the parcel is late"])
    np.testing.assert_allclose(again[1], v[0], atol=1e-5)


def test_progress_and_truncation(encoder: Encoder) -> None:
    calls: list[tuple[int, int]] = []
    texts = [f"sentence number {i}" for i in range(10)]
    encoder.encode(texts, batch_size=4, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(4, 10), (8, 10), (10, 10)]
    long = "word " * 400
    short_cut = encoder.encode([long], max_length=16)
    longer_cut = encoder.encode([long + " different ending"], max_length=16)
    np.testing.assert_allclose(short_cut, longer_cut, atol=1e-5)  # only 16 tokens seen
    with pytest.raises(TypeError):
        encoder.encode("not a list")


def test_model_revision_and_cache_key(encoder: Encoder) -> None:
    rev = encoder.model_revision
    assert rev.startswith("sha256:") and len(rev) == len("sha256:") + 16
    assert encoder.model_revision == rev  # memoised, stable
    assert encoder.embedding_revision(128) == f"{rev}/len128"
    k = text_cache_key("hello", rev)
    assert len(k) == 64 and int(k, 16) >= 0
    assert k == text_cache_key("hello", rev)
    assert k != text_cache_key("hello ", rev)
    assert k != text_cache_key("hello", rev + "x")
    assert text_cache_key("ab", "c") != text_cache_key("a", "bc")


def test_model_revision_of_tracks_content(tmp_path) -> None:
    from evaluation.verification.embed import model_revision_of

    d = tmp_path / "enc"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "model.safetensors").write_bytes(b"\x00" * 64)
    first = model_revision_of(d)
    (d / "model.safetensors").write_bytes(b"\x01" * 64)  # same size, new weights
    second = model_revision_of(d)
    assert second != first
    (d / "README.md").write_text("docs do not change the vectors")
    assert model_revision_of(d) == second
    snap = tmp_path / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    assert model_revision_of(snap) == "hf:" + "a" * 40
    with pytest.raises(FileNotFoundError):
        model_revision_of(tmp_path / "snapshots")  # no weights


# --------------------------------------------------------------------------- training


def test_cv_separable_blobs_high_f1() -> None:
    X, y = make_blobs(600, n_features=20, centers=4, cluster_std=1.0, random_state=0)
    r = cross_validate(X, y, n_folds=5)
    assert r.macro_f1 > 0.9 and r.accuracy > 0.9
    assert r.oof_pred_probs.shape == (600, 4)
    np.testing.assert_allclose(r.oof_pred_probs.sum(axis=1), 1.0, atol=1e-6)
    assert r.confusion_matrix.shape == (4, 4) and r.confusion_matrix.sum() == 600
    assert [d["label"] for d in r.per_label] == [0, 1, 2, 3]
    assert len(r.fold_macro_f1) == 5
    # Balanced 4 classes: majority baseline predicts one class -> macro-F1 = (2/5)/4 = 0.1.
    assert r.baselines["majority"]["macro_f1"] < 0.15
    assert r.baselines["weak_label"] is None
    d = json.loads(json.dumps(r.to_dict()))
    assert d["macro_f1"] == pytest.approx(r.macro_f1)
    assert "oof_pred_probs" not in r.to_dict(include_predictions=False)


def test_cv_shuffled_labels_is_chance() -> None:
    X, y = make_blobs(600, n_features=20, centers=4, cluster_std=1.0, random_state=0)
    y = np.random.default_rng(0).permutation(y)
    r = cross_validate(X, y)
    assert r.macro_f1 < 1 / 4 + 0.08


def test_cv_string_labels_and_weak_label_baseline() -> None:
    X, yi = make_blobs(300, n_features=8, centers=3, cluster_std=1.0, random_state=1)
    names = np.array(["neg", "neu", "pos"])
    y = names[yi]
    rng = np.random.default_rng(0)
    weak: list[str | None] = list(y)
    for i in rng.choice(300, 90, replace=False):  # 30 % abstain
        weak[i] = None
    answered = [i for i, w in enumerate(weak) if w is not None]
    for i in answered[:21]:  # 10 % of the answered ones wrong
        weak[i] = "neu" if weak[i] != "neu" else "pos"
    r = cross_validate(X, y, weak_labels=weak)
    assert r.classes == ["neg", "neu", "pos"]
    assert list(r.y_index[:5]) == list(yi[:5])
    w = r.baselines["weak_label"]
    assert w["coverage"] == pytest.approx(0.7)
    assert w["accuracy_on_covered"] == pytest.approx(1 - 21 / 210)
    assert w["accuracy"] == pytest.approx((210 - 21) / 300)
    assert w["macro_f1"] < r.macro_f1
    json.dumps(r.to_dict())


def test_tiny_pilot_set_uses_fewer_folds() -> None:
    # 10 items over 5 labels: StratifiedKFold cannot make 5 folds; we fall back to 2.
    X, _ = make_blobs(10, n_features=4, centers=5, cluster_std=0.5, random_state=0)
    y = np.repeat(np.arange(5), 2)
    r = cross_validate(X, y, n_folds=5)
    assert r.n_folds == 2 and r.oof_pred_probs.shape == (10, 5)
    points = learning_curve(X, y, fractions=(0.5, 1.0), seeds=(0,))
    assert [p.n for p in points] == [5, 5]  # >= 1 per class at any fraction
    with pytest.raises(ValueError):
        read_learning_curve(points)  # no two distinct sizes: no reading
    with pytest.raises(ValueError):
        cross_validate(X[:5], np.arange(5))  # one item per label


def test_cv_multi_label() -> None:
    X, _ = make_blobs(500, n_features=10, centers=5, random_state=0)
    W = np.random.default_rng(1).normal(size=(10, 3))
    proj = X @ W
    Y = np.greater(proj, np.median(proj, axis=0)).astype(int)
    r = cross_validate(X, Y, multi_label=True)
    assert r.oof_pred_probs.shape == (500, 3) and r.oof_pred.shape == (500, 3)
    assert r.macro_f1 > 0.85
    assert r.confusion_matrix.shape == (3, 2, 2)
    issues = find_suspicious_labels(Y, r.oof_pred_probs, multi_label=True)
    assert all(isinstance(d["given_label"], list) for d in issues)
    json.dumps(r.to_dict())


def test_parallel_folds_match_serial() -> None:
    X, y = make_blobs(300, n_features=10, centers=3, cluster_std=3.0, random_state=0)
    a = cross_validate(X, y, n_jobs=1)
    b = cross_validate(X, y, n_jobs=2)
    np.testing.assert_allclose(a.oof_pred_probs, b.oof_pred_probs, atol=1e-10)


def test_learning_curve_rises_when_more_data_helps() -> None:
    # 100 dimensions, 20 informative, overlapping classes: 80 examples cannot pin this down.
    X, y = make_classification(
        n_samples=1000,
        n_features=100,
        n_informative=20,
        n_classes=3,
        class_sep=1.0,
        random_state=0,
    )
    points = learning_curve(X, y, fractions=(0.1, 0.25, 0.5, 1.0), seeds=(0, 1, 2))
    assert [p.fraction for p in points] == [0.1, 0.25, 0.5, 1.0]
    assert [p.n for p in points] == sorted(p.n for p in points)
    assert points[-1].n == 800  # 4/5 of the data per fit
    assert points[-1].mean_macro_f1 > points[0].mean_macro_f1 + 0.1
    assert learning_curve_trend(points) == "rising"
    reading = read_learning_curve(points)
    assert reading.startswith("Still rising") and "likely to help" in reading
    assert "0.020" in reading  # the threshold is stated
    json.dumps([p.to_dict() for p in points])


def test_learning_curve_flat_when_trivially_separable() -> None:
    X, y = make_blobs(500, n_features=10, centers=3, cluster_std=0.5, random_state=0)
    points = learning_curve(X, y)
    assert all(p.mean_macro_f1 > 0.99 for p in points)
    assert learning_curve_trend(points) in {"flat", "ceiling"}
    assert "will not help" in read_learning_curve(points)


def test_learning_curve_flat_when_noise_limited() -> None:
    # Easy geometry, 20 % of labels randomly wrong: the ceiling is the noise, not the data.
    X, yc = make_blobs(1000, n_features=10, centers=3, cluster_std=1.0, random_state=0)
    rng = np.random.default_rng(0)
    y = yc.copy()
    flip = rng.random(1000) < 0.2
    y[flip] = (y[flip] + rng.integers(1, 3, flip.sum())) % 3
    points = learning_curve(X, y, fractions=(0.25, 0.5, 1.0), seeds=(0, 1))
    assert learning_curve_trend(points) == "flat"
    assert read_learning_curve([p.to_dict() for p in points]).startswith("Flat:")


def test_trend_rules_on_fixed_points() -> None:
    def pts(f1s: list[float], std: float = 0.0) -> list[LearningCurvePoint]:
        sizes = (100, 200)[: len(f1s)]
        return [LearningCurvePoint(1.0, n, f, std, [f]) for n, f in zip(sizes, f1s, strict=True)]

    assert learning_curve_trend(pts([0.60, 0.65])) == "rising"
    assert learning_curve_trend(pts([0.60, 0.65], std=0.05)) == "flat"  # within the noise
    assert learning_curve_trend(pts([0.60, 0.61])) == "slowing"
    assert learning_curve_trend(pts([0.60, 0.602])) == "flat"
    assert learning_curve_trend(pts([0.97, 0.985])) == "ceiling"
    with pytest.raises(ValueError):
        learning_curve_trend(pts([0.5]))  # one point: no slope


# --------------------------------------------------------------------------- label issues


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_noise_recovery(seed: int) -> None:
    # Learnable but overlapping blobs (clean OOF accuracy ~0.95-0.98), 10 % labels flipped.
    # Measured over seeds 0-5: recall 0.80-0.95, precision 0.87-0.97; bounds leave margin.
    X, y_clean = make_blobs(800, n_features=20, centers=4, cluster_std=7.0, random_state=seed)
    rng = np.random.default_rng(seed)
    y = y_clean.copy()
    flipped = rng.choice(800, 80, replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, 4, 80)) % 4
    r = cross_validate(X, y)
    issues = find_suspicious_labels(r.y_index, r.oof_pred_probs)
    found = {d["index"] for d in issues}
    hits = len(found & set(flipped.tolist()))
    assert hits / 80 >= 0.7, f"recall {hits / 80:.2f}"
    assert hits / len(found) >= 0.7, f"precision {hits / len(found):.2f}"
    # Ranked most suspicious first: self-confidence ascending, ranks 1..n.
    conf = [d["self_confidence"] for d in issues]
    assert conf == sorted(conf)
    assert [d["rank"] for d in issues] == list(range(1, len(issues) + 1))
    # Where the model disagrees, the suggestion is usually the true label.
    suggested_right = np.mean(
        [d["suggested_label"] == y_clean[d["index"]] for d in issues if d["index"] in flipped]
    )
    assert suggested_right > 0.8


def test_find_suspicious_labels_top_k_names_and_validation() -> None:
    probs = np.array([[0.9, 0.1]] * 20 + [[0.1, 0.9]] * 20)
    labels = np.array([0] * 20 + [1] * 20)
    labels[[3, 25]] = [1, 0]
    issues = find_suspicious_labels(labels, probs, top_k=1, label_names=["no", "yes"])
    assert len(issues) == 1 and issues[0]["index"] in {3, 25}
    assert issues[0]["given_label_name"] != issues[0]["suggested_label_name"]
    with pytest.raises(ValueError):
        find_suspicious_labels(np.array([0, 2]), np.array([[0.5, 0.5], [0.5, 0.5]]))


def test_entropy_extremes() -> None:
    p = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.7, 0.1, 0.1, 0.1]])
    h = entropy(p)
    assert h[0] == pytest.approx(np.log(4))
    assert h[1] == 0.0
    assert 0 < h[2] < h[0]
    np.testing.assert_allclose(entropy(p, normalize=True), h / np.log(4))
    assert list(uncertainty_order(p)) == [0, 2, 1]


def test_error_pairs_groups_and_orders() -> None:
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    pred = np.array([1, 1, 0, 0, 1, 0, 2, 2, 1])
    probs = np.full((9, 3), 0.1)
    probs[np.arange(9), pred] = 0.8
    probs[1, 1] = 0.9  # item 1 is the more confident (0 -> 1) mistake
    texts = [f"t{i}" for i in range(9)]
    pairs = error_pairs(y, pred, ["a", "b", "c"], texts, max_examples=1, pred_probs=probs)
    assert (pairs[0]["given_name"], pairs[0]["predicted_name"], pairs[0]["count"]) == (
        "a",
        "b",
        2,
    )
    assert pairs[0]["share_of_given"] == pytest.approx(2 / 3)
    assert pairs[0]["examples"] == [{"index": 1, "text": "t1"}]
    assert sum(p["count"] for p in pairs) == int((y != pred).sum())
    assert {(p["given"], p["predicted"]) for p in pairs} == {(0, 1), (1, 0), (2, 0), (2, 1)}


# --------------------------------------------------------------------------- plots


def test_plots_return_svg() -> None:
    points = [LearningCurvePoint(f, int(f * 800), 0.5 + 0.3 * f, 0.02, []) for f in (0.25, 1)]
    svg = learning_curve_svg(points, baseline=0.1)
    assert "<svg" in svg and svg == learning_curve_svg(points, baseline=0.1)  # deterministic
    assert "<svg" in learning_curve_svg([p.to_dict() for p in points])
    cm = np.array([[5, 1], [2, 7]])
    assert "<svg" in confusion_matrix_svg(cm, ["spam", "ham"])
    assert "<svg" in confusion_matrix_svg(cm, ["spam", "ham"], normalize=False)
    with pytest.raises(ValueError):
        confusion_matrix_svg(cm, ["only one"])
