"""The reliability matrix: items x annotators, category codes 0..K-1, ``MISSING`` (-1) for gaps.

Everything in :mod:`evaluation.agreement` and :mod:`evaluation.aggregation` takes this matrix.
The item x category count table derived from it (``counts[i, k]`` = how many annotators put
item ``i`` in category ``k``) is the sufficient statistic for every multi-rater coefficient
except pairwise Cohen's kappa, which needs annotator identity.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

MISSING = -1

IntArray = NDArray[np.int64]


def reliability_matrix(
    item_ids: ArrayLike,
    annotator_ids: ArrayLike,
    codes: ArrayLike,
    *,
    duplicates: Literal["error", "last"] = "error",
) -> tuple[IntArray, np.ndarray, np.ndarray]:
    """Build the (n_items, n_annotators) matrix from three parallel 1-D arrays.

    The arrays are what one database query returns (one row per judgement). Rows are the sorted
    unique item ids, columns the sorted unique annotator ids; both index arrays are returned so
    callers can map matrix positions back to database keys. A code of ``MISSING`` (-1) in the
    input is skipped (the cell stays missing).

    ``duplicates`` says what to do when one annotator judged one item more than once:
    ``"error"`` raises ``ValueError``; ``"last"`` keeps the judgement that comes last in input
    order (order the query by time to keep the newest).
    """
    items = np.asarray(item_ids)
    annotators = np.asarray(annotator_ids)
    code_arr = np.asarray(codes)
    if not (items.ndim == annotators.ndim == code_arr.ndim == 1):
        raise ValueError("item_ids, annotator_ids and codes must be 1-D")
    if not (len(items) == len(annotators) == len(code_arr)):
        raise ValueError("item_ids, annotator_ids and codes must have the same length")
    if code_arr.size and not np.issubdtype(code_arr.dtype, np.integer):
        raise TypeError("codes must be integer category codes")
    code_arr = code_arr.astype(np.int64, copy=False)
    if code_arr.size and code_arr.min() < MISSING:
        raise ValueError("codes must be >= 0, or -1 for a missing judgement")

    item_index, item_pos = np.unique(items, return_inverse=True)
    annotator_index, annotator_pos = np.unique(annotators, return_inverse=True)
    n_items, n_annotators = len(item_index), len(annotator_index)
    matrix = np.full((n_items, n_annotators), MISSING, dtype=np.int64)

    keep = code_arr != MISSING
    cell = (item_pos * n_annotators + annotator_pos)[keep]
    values = code_arr[keep]
    # Fancy assignment with repeated indices has no guaranteed winner, so resolve duplicates
    # explicitly: a stable sort keeps input order within a cell, and we take each run's end.
    order = np.argsort(cell, kind="stable")
    sorted_cells = cell[order]
    is_last = np.ones(len(sorted_cells), dtype=bool)
    is_last[:-1] = sorted_cells[1:] != sorted_cells[:-1]
    n_dupes = int(len(sorted_cells) - is_last.sum())
    if n_dupes and duplicates == "error":
        raise ValueError(
            f"{n_dupes} repeated (item, annotator) judgement(s); pass duplicates='last' "
            "to keep the last one in input order"
        )
    matrix.ravel()[sorted_cells[is_last]] = values[order][is_last]
    return matrix, item_index, annotator_index


def n_categories_of(matrix: ArrayLike, n_categories: int | None = None) -> int:
    """Number of categories K: ``n_categories`` if given (validated), else max code + 1."""
    m = np.asarray(matrix)
    observed = int(m.max()) + 1 if m.size else 0
    if n_categories is None:
        return max(observed, 0)
    if observed > n_categories:
        raise ValueError(f"code {observed - 1} out of range for {n_categories} categories")
    return int(n_categories)


def validate_matrix(matrix: ArrayLike) -> IntArray:
    """Return ``matrix`` as a 2-D int64 array, rejecting codes below ``MISSING``."""
    m = np.asarray(matrix)
    if m.ndim != 2:
        raise ValueError("a reliability matrix is 2-D: (n_items, n_annotators)")
    if m.size and not np.issubdtype(m.dtype, np.integer):
        raise TypeError("a reliability matrix holds integer codes (-1 = missing)")
    m = m.astype(np.int64, copy=False)
    if m.size and m.min() < MISSING:
        raise ValueError("codes must be >= 0, or -1 for a missing judgement")
    return m


def category_counts(matrix: ArrayLike, n_categories: int | None = None) -> IntArray:
    """Item x category count table: ``counts[i, k]`` = judgements of item ``i`` in category ``k``.

    This is the "n_ij" table of Fleiss (1971); its row sums are the number of judgements per
    item. Built with one ``np.bincount`` over flattened (item, code) keys.
    """
    m = validate_matrix(matrix)
    k = n_categories_of(m, n_categories)
    n_items = m.shape[0]
    flat = m.ravel()
    ok = flat != MISSING
    rows = np.repeat(np.arange(n_items, dtype=np.int64), m.shape[1])[ok]
    keys = rows * k + flat[ok]
    return np.bincount(keys, minlength=n_items * k).reshape(n_items, k)


def compress_counts(counts: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Collapse identical count rows: returns (patterns (P, K), frequency (P,), inverse (n,)).

    Every coefficient that depends only on the count table is a function of pattern
    frequencies, so an item bootstrap can draw pattern counts from Multinomial(n, freq / n)
    instead of resampling n items (an exact identity). With few annotators P is tiny (a few
    hundred for 3 annotators x 10 labels). Rows are encoded as one integer key when that cannot
    overflow, because ``np.unique(axis=0)`` is an order of magnitude slower; otherwise no
    compression happens (P = n).
    """
    n, k = counts.shape
    if n == 0:
        return counts, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    base = int(counts.max()) + 1
    if k * np.log2(base) < 62:
        weights = base ** np.arange(k, dtype=np.int64)
        keys = counts @ weights
        _, first, inverse, freq = np.unique(
            keys, return_index=True, return_inverse=True, return_counts=True
        )
        return counts[first], freq.astype(np.int64), inverse.astype(np.int64)
    return counts, np.ones(n, dtype=np.int64), np.arange(n, dtype=np.int64)
