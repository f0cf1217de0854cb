"""SVG renderings of verification results (learning curve, confusion matrix).

Figures are built with ``matplotlib.figure.Figure`` directly, never ``pyplot``: no global
figure registry, no GUI backend, so this is safe in web/Celery worker threads. Output is
deterministic (fixed SVG id salt, no date) so identical results give identical bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # belt and braces for any later pyplot import in the same process

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["confusion_matrix_svg", "learning_curve_svg"]

_RC = {"svg.hashsalt": "dmops-verification", "font.size": 9}


def _to_svg(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


def _get(p: Any, key: str) -> Any:
    return p[key] if isinstance(p, dict) else getattr(p, key)


def learning_curve_svg(
    points: Sequence[Any],
    title: str = "Learning curve",
    baseline: float | None = None,
) -> str:
    """Macro-F1 (mean ± std across seeds) against training-set size on a log2 axis.

    ``points`` are :class:`.train.LearningCurvePoint` or their ``to_dict()`` form;
    ``baseline`` (e.g. the majority-class macro-F1) is drawn as a dashed line.
    """
    pts = sorted(points, key=lambda p: _get(p, "n"))
    n = np.array([_get(p, "n") for p in pts], dtype=float)
    mean = np.array([_get(p, "mean_macro_f1") for p in pts], dtype=float)
    std = np.array([_get(p, "std_macro_f1") for p in pts], dtype=float)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(4.8, 3.2))
        ax = fig.add_subplot()
        ax.fill_between(n, mean - std, mean + std, alpha=0.25, linewidth=0)
        ax.plot(n, mean, marker="o", label="logistic probe (CV)")
        if baseline is not None:
            ax.axhline(baseline, linestyle="--", color="grey", label="majority baseline")
        if len(n) > 1 and n.min() > 0:
            ax.set_xscale("log", base=2)
            ax.set_xticks(n, [f"{int(v)}" for v in n])
            ax.minorticks_off()
        ax.set_xlabel("training examples")
        ax.set_ylabel("macro-F1")
        ax.set_ylim(0, 1.02)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", frameon=False)
        return _to_svg(fig)


def confusion_matrix_svg(
    cm: np.ndarray | Sequence[Sequence[int]],
    label_names: Sequence[str],
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> str:
    """Heatmap of a (K, K) confusion matrix (rows = given label, columns = predicted).

    With ``normalize`` the colour is the row share (recall view, so a rare label's errors
    are as visible as a frequent one's); cells are annotated with raw counts either way.
    """
    cm = np.asarray(cm, dtype=float)
    K = len(label_names)
    if cm.shape != (K, K):
        raise ValueError(f"cm must be ({K}, {K}) to match label_names, got {cm.shape}")
    rows = cm.sum(axis=1, keepdims=True)
    colour = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) if normalize else cm
    size = 1.2 + 0.45 * K
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(size + 1.0, size))
        ax = fig.add_subplot()
        image = ax.imshow(colour, cmap="Blues", vmin=0, vmax=1 if normalize else None)
        fig.colorbar(
            image, ax=ax, fraction=0.046, pad=0.04, label="row share" if normalize else "count"
        )
        ax.set_xticks(range(K), label_names, rotation=45, ha="right")
        ax.set_yticks(range(K), label_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("given")
        ax.set_title(title)
        threshold = (colour.max() or 1.0) / 2
        if K <= 30:  # beyond that the numbers are unreadable anyway
            for i in range(K):
                for j in range(K):
                    ax.text(
                        j,
                        i,
                        f"{int(cm[i, j])}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if colour[i, j] > threshold else "black",
                    )
        return _to_svg(fig)
