"""Evaluation's tables, one module per area: agreement and review figures (steps 9–10) and
model verification (step 11)."""

from __future__ import annotations

from evaluation.models.agreement import *  # noqa: F403
from evaluation.models.verification import *  # noqa: F403
