"""Gate checks owned by the lifecycle app itself: step 1 (goal) and step 6 (team)."""

from __future__ import annotations

from dmops.models import Membership, Project
from dmops.steps import CheckResult, register_check


@register_check(1, "goal_statement", "The goal states the business need and intended use")
def goal_statement_present(project: Project) -> CheckResult:
    missing = [
        label
        for label, value in (
            ("business need", project.goal_business_need),
            ("intended model / use", project.goal_intended_use),
        )
        if not value.strip()
    ]
    if missing:
        return CheckResult(False, "Missing: " + ", ".join(missing) + ".")
    return CheckResult(True, "Business need and intended use are written down.")


@register_check(1, "success_metric", "The goal has a success metric")
def success_metric_present(project: Project) -> CheckResult:
    if not project.goal_success_metric.strip():
        return CheckResult(False, "No success metric: say how you will judge the dataset.")
    return CheckResult(True, project.goal_success_metric.strip()[:120])


@register_check(6, "team", "At least one manager and one annotator")
def team_present(project: Project) -> CheckResult:
    roles = set(project.memberships.values_list("role", flat=True))
    missing = [
        role.label
        for role in (Membership.Role.MANAGER, Membership.Role.ANNOTATOR)
        if role.value not in roles
    ]
    if missing:
        return CheckResult(False, "The project has no " + " and no ".join(missing).lower() + ".")
    return CheckResult(True, "The team has a manager and annotators.")
