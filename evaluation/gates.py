"""Gate checks owned by the evaluation app: steps 9 (pilot agreement) and 10 (spot checks).
Registered from ``EvaluationConfig.ready()``; each is a read with no side effect."""

from __future__ import annotations

from dmops.models import Project
from dmops.steps import CheckResult, register_check
from evaluation import gates_verification  # noqa: F401  registers the step 11 check
from evaluation.selectors import agreement, review


@register_check(9, "pilot_agreement", "The latest pilot's agreement meets the threshold")
def pilot_agreement(project: Project) -> CheckResult:
    return agreement.pilot_gate(project)


@register_check(10, "spot_check_accepted", "The spot-check sample is reviewed and accepted")
def spot_check_accepted(project: Project) -> CheckResult:
    return review.spot_check_gate(project)
