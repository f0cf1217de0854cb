"""Inter-annotator agreement on a reliability matrix (items x annotators, -1 = missing).

Pure NumPy/SciPy/scikit-learn: no Django import anywhere in this package, so it runs in Celery
workers, notebooks and benchmarks alike. Build the matrix from one query's flat columns with
:func:`reliability_matrix`, then call :func:`agreement_report` or the single coefficients.
"""

from __future__ import annotations

from evaluation.agreement.alpha import LEVELS, coincidence_matrix, krippendorff_alpha
from evaluation.agreement.bootstrap import (
    STATISTICS,
    ConfidenceInterval,
    bootstrap_ci,
    bootstrap_distributions,
    percentile_interval,
)
from evaluation.agreement.coefficients import (
    cohen_kappa_matrix,
    fleiss_kappa,
    gwet_ac1,
    mean_pairwise_kappa,
    percent_agreement,
)
from evaluation.agreement.labels import (
    disagreement_items,
    pairwise_confusion,
    prevalence_skew,
    specific_agreement,
)
from evaluation.agreement.matrix import (
    MISSING,
    category_counts,
    reliability_matrix,
)
from evaluation.agreement.report import agreement_report

__all__ = [
    "LEVELS",
    "MISSING",
    "STATISTICS",
    "ConfidenceInterval",
    "agreement_report",
    "bootstrap_ci",
    "bootstrap_distributions",
    "category_counts",
    "cohen_kappa_matrix",
    "coincidence_matrix",
    "disagreement_items",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "mean_pairwise_kappa",
    "pairwise_confusion",
    "percent_agreement",
    "percentile_interval",
    "prevalence_skew",
    "reliability_matrix",
    "specific_agreement",
]
