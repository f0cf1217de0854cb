"""Step 11's gate check, owned by the evaluation app and registered on import (from
``evaluation/gates.py``, which ``EvaluationConfig.ready()`` imports). A read with no side effect."""

from __future__ import annotations

from dmops.models import Project
from dmops.steps import CheckResult, register_check
from evaluation.models import VerificationRun
from evaluation.selectors import verification as selectors


@register_check(
    11,
    "verification_signed_off",
    "A verification run newer than the last labelling, with the manager's findings",
)
def verification_signed_off(project: Project) -> CheckResult:
    """Passes when a run finished (status done) that read the data after the project's last
    judgement, and a manager wrote a note on its findings."""
    last = selectors.last_labelling_at(project)
    runs = VerificationRun.objects.filter(project=project, status=VerificationRun.Status.DONE)
    if last is not None:
        runs = runs.filter(started_at__gte=last)
    run = runs.order_by("-finished_at", "-pk").first()
    if run is None:
        detail = "No finished verification run since the last labelling."
        return CheckResult(False, detail)
    if not run.findings_note.strip():
        return CheckResult(False, f"Run #{run.pk} has no sign-off note on its findings yet.")
    return CheckResult(True, f"Run #{run.pk}, macro-F1 {run.macro_f1:.3f}, findings signed off.")
