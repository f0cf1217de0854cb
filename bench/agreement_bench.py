"""Benchmark: agreement report and Dawid-Skene at production scale.

Run: ``.venv/bin/python bench/agreement_bench.py [--items N] [--resamples B] [--seed S]``

Simulates what one project's labelling export looks like: 100 000 items x 3 annotators,
10 labels with a skewed prior, 5 % of judgements missing, rows in arbitrary (database) order
with non-contiguous ids. Times building the reliability matrix from the flat columns, the full
``agreement_report`` with 1 000 bootstrap resamples (nominal, ordinal, and nominal plus the
ordinal alpha an ordered schema adds), the multi-label report on simulated label sets (10
labels, per-label and MASI/Jaccard alpha, 1 000 resamples), majority vote and Dawid-Skene. Each
workload is timed once without tracing, then run again under ``tracemalloc`` for its peak of
traced allocations (NumPy reports its buffers to tracemalloc); the process peak RSS
(``ru_maxrss``) is printed at the end. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.aggregation import dawid_skene, majority_vote  # noqa: E402
from evaluation.agreement import agreement_report, reliability_matrix  # noqa: E402
from evaluation.agreement.multilabel import multilabel_report  # noqa: E402

TARGET_SECONDS = {
    "agreement_report (nominal)": 10.0,
    "agreement_report (nominal + ordinal)": 10.0,
    "dawid_skene": 10.0,
}


def simulate(n_items: int, n_annotators: int, k: int, p_missing: float, seed: int):
    """Flat (item_id, annotator_id, code) columns in shuffled order, plus each item's db key and
    true label."""
    rng = np.random.default_rng(seed)
    prior = rng.dirichlet(np.full(k, 2.0))
    truth = rng.choice(k, size=n_items, p=prior)
    accuracy = np.linspace(0.9, 0.7, n_annotators)
    right = rng.random((n_items, n_annotators)) < accuracy
    m = np.where(right, truth[:, None], rng.integers(0, k, (n_items, n_annotators)))
    present = rng.random(m.shape) >= p_missing
    rows, cols = np.nonzero(present)
    item_keys = rng.choice(10 * n_items, size=n_items, replace=False)  # sparse db keys
    annotator_ids = (1000 + cols).astype(np.int64)
    order = rng.permutation(len(rows))
    flat = (item_keys[rows][order], annotator_ids[order], m[rows, cols][order])
    return flat, item_keys, truth


def simulate_sets(n_items: int, n_annotators: int, k: int, p_missing: float, seed: int):
    """A multi-label matrix: each item's true label set (each label with probability 0.2),
    every annotator flipping each label with probability 0.05; codes index the distinct sets."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n_items, 1, k)) < 0.2
    flips = rng.random((n_items, n_annotators, k)) < 0.05
    masks = ((truth ^ flips) * (1 << np.arange(k))).sum(axis=2)
    distinct, codes = np.unique(masks, return_inverse=True)
    matrix = codes.reshape(n_items, n_annotators).astype(np.int64)
    matrix[rng.random(matrix.shape) < p_missing] = -1
    sets = [frozenset(c for c in range(k) if mask >> c & 1) for mask in distinct.tolist()]
    return matrix, sets


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, elapsed, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=3)
    parser.add_argument("--labels", type=int, default=10)
    parser.add_argument("--missing", type=float, default=0.05)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    (item_ids, annotator_ids, codes), item_keys, truth = simulate(
        args.items, args.annotators, args.labels, args.missing, args.seed
    )
    categories = [f"label-{c}" for c in range(args.labels)]
    rows: list[tuple[str, int, float, float]] = []

    built, t, peak = measure(lambda: reliability_matrix(item_ids, annotator_ids, codes))
    matrix, item_index, _ = built
    n = matrix.shape[0]
    rows.append(("reliability_matrix (N = judgements)", len(codes), t, peak))

    # Warm up once on a tiny matrix: the first call imports scikit-learn and SciPy lazily, a
    # one-off per worker process that is not part of a report's cost.
    agreement_report(matrix[:50], categories, n_resamples=10)
    multilabel_report(matrix[:50], [frozenset([c]) for c in range(args.labels)], [0], 10)
    for level in ("nominal", "ordinal"):
        report, t, peak = measure(
            lambda level=level: agreement_report(
                matrix, categories, level=level, n_resamples=args.resamples, seed=args.seed
            )
        )
        rows.append((f"agreement_report ({level})", n, t, peak))
        if level == "nominal":
            nominal_report = report
    # What an ordinal schema's report computes: nominal figures plus ordinal alpha and its CI.
    _, t, peak = measure(
        lambda: agreement_report(
            matrix, categories, n_resamples=args.resamples, seed=args.seed, scale_level="ordinal"
        )
    )
    rows.append(("agreement_report (nominal + ordinal)", n, t, peak))

    set_matrix, sets = simulate_sets(
        args.items, args.annotators, args.labels, args.missing, args.seed
    )
    multi, t, peak = measure(
        lambda: multilabel_report(
            set_matrix, sets, list(range(args.labels)), args.resamples, args.seed
        )
    )
    rows.append(("multilabel_report", set_matrix.shape[0], t, peak))

    vote, t, peak = measure(lambda: majority_vote(matrix, args.labels))
    rows.append(("majority_vote", n, t, peak))
    ds, t, peak = measure(lambda: dawid_skene(matrix, args.labels))
    rows.append(("dawid_skene", n, t, peak))

    print(
        f"{args.items} items x {args.annotators} annotators, {args.labels} labels, "
        f"{args.missing:.0%} missing, {args.resamples} bootstrap resamples; "
        f"numpy {np.__version__}"
    )
    header = (
        f"{'workload':38} {'N':>9} {'time (s)':>9} {'rate (items/s)':>15} {'peak MB':>8}  target"
    )
    print(header)
    print("-" * len(header))
    missed = False
    for name, size, seconds, peak_mb in rows:
        target = TARGET_SECONDS.get(name)
        verdict = "" if target is None else ("ok" if seconds <= target else "MISSED")
        missed |= verdict == "MISSED"
        label = f"<= {target:.0f} s {verdict}" if target else ""
        print(
            f"{name:38} {size:>9} {seconds:>9.3f} {size / seconds:>15,.0f} {peak_mb:>8.1f}  {label}"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS (ru_maxrss): {rss:.0f} MB")

    alpha = nominal_report["krippendorff_alpha"]
    ac1 = nominal_report["gwet_ac1"]
    print(
        f"alpha = {alpha['value']:.4f} [{alpha['ci']['low']:.4f}, {alpha['ci']['high']:.4f}]  "
        f"AC1 = {ac1['value']:.4f} [{ac1['ci']['low']:.4f}, {ac1['ci']['high']:.4f}]"
    )
    # Matrix rows are sorted db keys (unjudged items are absent): realign the simulated truth.
    sorter = np.argsort(item_keys)
    ordered_truth = truth[sorter[np.searchsorted(item_keys, item_index, sorter=sorter)]]
    masi = multi["krippendorff_alpha"]
    print(
        f"multi-label ({len(sets)} distinct label sets): MASI alpha = {masi['value']:.4f} "
        f"[{masi['ci']['low']:.4f}, {masi['ci']['high']:.4f}], mean per-label alpha = "
        f"{multi['label_mean']['krippendorff_alpha']['value']:.4f}"
    )
    print(
        "label accuracy vs simulated truth: "
        f"majority vote {np.mean(vote.labels == ordered_truth):.4f}, "
        f"Dawid-Skene {np.mean(ds.labels == ordered_truth):.4f} "
        f"({ds.n_iter} EM iterations, converged={ds.converged})"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
