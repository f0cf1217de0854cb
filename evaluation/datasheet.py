"""The datasheet's quality sections, which only evaluation can write: agreement (pilot and
batches, with bootstrap CIs), review acceptance and model-verification findings.

``annotation`` cannot import ``evaluation``, so these register themselves into annotation's
datasheet registry when ``EvaluationConfig.ready()`` imports this module. They read through
evaluation's selectors when the release is built and are stored with it, so a later report
does not change an old datasheet.

Which are mandatory (an empty one blocks the step 12 gate):

* **Agreement** — when the project ran a pilot. Step 9 is about measured agreement; a release
  of a piloted project whose datasheet cannot show the pilot's figure is incomplete. With no
  pilot the section says plainly that agreement was not measured, which is not empty.
* **Review** and **model verification** — never: their gates are steps 10 and 11. When they
  did not happen the section says "not run" explicitly, so a reader is not left guessing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from annotation.models import Batch
from annotation.services.datasheet import SectionResult, register_datasheet_section
from evaluation.models import AgreementReport
from evaluation.selectors import agreement as agreement_selectors
from evaluation.selectors import review as review_selectors
from evaluation.selectors import verification as verification_selectors

if TYPE_CHECKING:
    from annotation.models import Release

FIGURES = (
    ("krippendorff_alpha", "Krippendorff's α"),
    ("gwet_ac1", "Gwet's AC1"),
    ("percent_agreement", "percent agreement"),
)


def _figure(results: dict[str, Any], key: str) -> dict[str, Any] | None:
    entry = results.get(key)
    if not isinstance(entry, dict) or entry.get("value") is None:
        return None
    ci = entry.get("ci") or {}
    return {"value": entry["value"], "ci_low": ci.get("low"), "ci_high": ci.get("high")}


def _format(figure: dict[str, Any]) -> str:
    text = f"{figure['value']:.3f}"
    if figure["ci_low"] is not None and figure["ci_high"] is not None:
        text += f" (95% CI {figure['ci_low']:.3f}–{figure['ci_high']:.3f})"
    return text


def _report_entry(report: AgreementReport) -> dict[str, Any]:
    figures = {key: _figure(report.results, key) for key, _ in FIGURES}
    return {
        "batch": report.batch.name,
        "kind": report.batch.kind,
        "guideline_version": report.guideline_version.number if report.guideline_version else None,
        "n_items": report.n_items,
        "n_annotators": report.n_annotators,
        "n_judgements": report.n_judgements,
        "threshold": report.threshold,
        **{key: value for key, value in figures.items() if value is not None},
        "message": report.message,
    }


def _report_line(entry: dict[str, Any]) -> str:
    shown = [f"{name} {_format(entry[key])}" for key, name in FIGURES if key in entry]
    guideline = f", guideline v{entry['guideline_version']}" if entry["guideline_version"] else ""
    head = f"- **{entry['batch']}** ({entry['kind']}{guideline}; {entry['n_items']} items, "
    head += f"{entry['n_annotators']} annotators): "
    return head + ("; ".join(shown) if shown else entry["message"] or "no figure defined")


def _project_has_pilot(release: Release) -> bool:
    return agreement_selectors.pilot_batches(release.project).exists()


def agreement_section(release: Release) -> SectionResult:
    """Every completed agreement report: the pilots in order, then the other batches."""
    project = release.project
    pilots = agreement_selectors.pilot_history(project)
    batches = list(
        AgreementReport.objects.filter(project=project, status=AgreementReport.Status.DONE)
        .exclude(batch__kind=Batch.Kind.PILOT)
        .select_related("batch", "guideline_version")
        .order_by("batch__created_at", "batch_id")
    )
    if not pilots and _project_has_pilot(release):
        return None  # a pilot ran but its figures are missing: the datasheet is incomplete
    if not pilots and not batches:
        text = "Not measured: the project ran no pilot and no batch labelled items more than once."
        return {"status": "not_run"}, text
    data = {
        "pilots": [_report_entry(r) for r in pilots],
        "batches": [_report_entry(r) for r in batches],
        "confidence_intervals": "95% percentile bootstrap over items",
    }
    md = []
    if data["pilots"]:
        md += ["Pilot (in the order run):", *map(_report_line, data["pilots"])]
    if data["batches"]:
        md += ["", "Batches:", *map(_report_line, data["batches"])]
    md += ["", "Intervals: 95% percentile bootstrap, resampling items."]
    return data, "\n".join(md).strip()


def review_section(release: Release) -> SectionResult:
    """Spot-check acceptance against the project's threshold."""
    project = release.project
    summary = review_selectors.spot_check_summary(project)
    threshold = agreement_selectors.quality_settings_for(project).acceptance_threshold
    if summary.total == 0:
        return {"status": "not_run"}, "Not run: no spot-check sample was reviewed."
    rate = summary.acceptance_rate
    data = {
        "spot_checks": summary.total,
        "decided": summary.decided,
        "pending": summary.pending,
        "accepted": summary.accepted,
        "acceptance_rate": rate,
        "threshold": threshold,
    }
    md = f"Spot checks: {summary.accepted} of {summary.decided} decided accepted as labelled"
    md += f" ({rate:.0%})" if rate is not None else ""
    md += f"; {threshold:.0%} required."
    if summary.pending:
        md += f" {summary.pending} of {summary.total} were still undecided at release time."
    return data, md


def verification_section(release: Release) -> SectionResult:
    """The latest finished verification run: learnability, suspicious labels and what people
    said about them, and the manager's reading of the findings."""
    run = verification_selectors.latest_done_run(release.project)
    if run is None:
        return {"status": "not_run"}, "Not run: no model-verification run has finished."
    report = run.report or {}
    learn = report.get("learnability") or {}
    majority = ((learn.get("baselines") or {}).get("majority") or {}).get("macro_f1")
    verdicts = verification_selectors.verdict_counts(run)
    data = {
        "run": run.pk,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "model_revision": run.model_revision,
        "n_items": report.get("n_items", run.n_items),
        "macro_f1": learn.get("macro_f1", run.macro_f1),
        "accuracy": learn.get("accuracy"),
        "majority_baseline_macro_f1": majority,
        "learning_curve": (report.get("learning_curve") or {}).get("reading"),
        "suspicious_listed": len(report.get("suspicious") or []),
        "verdicts": verdicts,
        "findings": run.findings_note,
    }
    md = [f"Run #{run.pk}" + (f" ({run.model_revision})" if run.model_revision else "") + ":"]
    if data["macro_f1"] is not None:
        line = f"- Cross-validated macro-F1 {data['macro_f1']:.3f}"
        line += f" (majority baseline {majority:.3f})" if majority is not None else ""
        md.append(line + f" on {data['n_items']} items.")
    if data["learning_curve"]:
        md.append(f"- Learning curve: {data['learning_curve']}")
    md.append(
        f"- {data['suspicious_listed']} labels flagged as suspicious; of those sent back to "
        f"people, {verdicts['rejected']} were judged wrong, {verdicts['confirmed']} right, "
        f"{verdicts['undecided']} undecided, {verdicts['waiting']} still waiting."
    )
    md.append(f"- Findings: {run.findings_note.strip() or 'not signed off by a manager.'}")
    return data, "\n".join(md)


register_datasheet_section(
    "agreement",
    "Inter-annotator agreement",
    agreement_section,
    mandatory=_project_has_pilot,
    before="limitations",
)
register_datasheet_section("review", "Review acceptance", review_section, before="limitations")
register_datasheet_section(
    "verification", "Model verification", verification_section, before="limitations"
)
