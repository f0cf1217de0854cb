"""Gate checks owned by the annotation app: steps 2 to 5 (data, cleaning, schema, guideline)."""

from __future__ import annotations

import re

from annotation.models import GuidelineVersion, ImportJob, PreprocessingRun, SchemaVersion, Source
from dmops.models import Project
from dmops.steps import CheckResult, register_check


@register_check(2, "has_source", "At least one source with imported items")
def has_source(project: Project) -> CheckResult:
    imported = ImportJob.objects.filter(project=project, status=ImportJob.Status.SUCCEEDED)
    if not imported.exists():
        return CheckResult(False, "No source has been imported yet.")
    return CheckResult(
        True, f"{project.items.count()} items from {project.sources.count()} sources."
    )


@register_check(2, "licences", "Every source has a known licence (or a manager's waiver)")
def licences_known(project: Project) -> CheckResult:
    unknown = [
        s.name
        for s in Source.objects.filter(project=project, licence=Source.Licence.UNKNOWN)
        if not s.licence_waiver.strip()
    ]
    if unknown:
        return CheckResult(False, "Licence unknown for: " + ", ".join(unknown) + ".")
    return CheckResult(True, "Every source's licence is recorded.")


@register_check(3, "preprocessed", "A pre-processing run completed after the last import")
def preprocessed_after_last_import(project: Project) -> CheckResult:
    last_import = (
        ImportJob.objects.filter(project=project, status=ImportJob.Status.SUCCEEDED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    last_run = (
        PreprocessingRun.objects.filter(project=project, status=PreprocessingRun.Status.APPLIED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    if last_run is None:
        return CheckResult(False, "No pre-processing run has been applied.")
    if last_import is not None and last_import > last_run:
        return CheckResult(False, "Data was imported after the last pre-processing run.")
    return CheckResult(True, "Pre-processing is up to date with the imports.")


def final_schema(project: Project) -> SchemaVersion | None:
    return SchemaVersion.objects.filter(project=project, is_final=True).order_by("-number").first()


@register_check(4, "final_schema", "A schema version is marked final")
def schema_is_final(project: Project) -> CheckResult:
    schema = final_schema(project)
    if schema is None:
        return CheckResult(False, "No schema version is final yet.")
    return CheckResult(True, f"Schema v{schema.number}: {schema.labels.count()} labels.")


def labels_missing_from(body: str, names: list[tuple[str, str]]) -> list[str]:
    """Labels (key, name) the guideline never mentions, by key or by display name."""
    text = body.casefold()
    return [
        name
        for key, name in names
        if name.casefold() not in text and not re.search(rf"\b{re.escape(key.casefold())}\b", text)
    ]


@register_check(5, "guideline_covers_schema", "A published guideline covers every label")
def guideline_covers_schema(project: Project) -> CheckResult:
    guideline = GuidelineVersion.objects.filter(project=project).order_by("-number").first()
    if guideline is None:
        return CheckResult(False, "No guideline version is published.")
    schema = final_schema(project)
    if schema is None:
        return CheckResult(False, "There is no final schema to cover.")
    missing = labels_missing_from(guideline.body, list(schema.labels.values_list("key", "name")))
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        return CheckResult(False, f"Guideline v{guideline.number} never mentions: {shown}.")
    return CheckResult(True, f"Guideline v{guideline.number} covers all labels.")


# --- step 12: deliverables (annotation/services/releases.py, datasheet.py) -------------------


@register_check(12, "release_datasheet", "A published release whose datasheet is complete")
def release_with_complete_datasheet(project: Project) -> CheckResult:
    from annotation.models import Release
    from annotation.services.datasheet import datasheet_missing

    releases = Release.objects.filter(project=project, status=Release.Status.PUBLISHED)
    last_missing: list[str] = []
    for release in releases.order_by("-number").only("number", "project_id", "datasheet"):
        missing = datasheet_missing(release.datasheet, release)
        if not missing:
            return CheckResult(True, f"v{release.number} is published with a full datasheet.")
        last_missing = last_missing or [f"v{release.number} lacks " + ", ".join(missing)]
    if not last_missing:
        return CheckResult(False, "No release has been published yet.")
    return CheckResult(False, last_missing[0] + ".")


# --- step 7: instruct annotators (annotation/services/training.py) ---------------------------


@register_check(7, "training_set_up", "Training items and a pass rule are set")
def training_set_up(project: Project) -> CheckResult:
    from annotation.models import QualificationRule, TrainingItem

    count = TrainingItem.objects.active().filter(project=project).count()
    rule = QualificationRule.objects.filter(project=project).first()
    if count == 0:
        return CheckResult(False, "No training items have been chosen.")
    if rule is None:
        return CheckResult(False, f"{count} training items, but no pass rule is set.")
    return CheckResult(True, f"{count} training items; pass with {rule.min_correct} correct.")


@register_check(7, "annotators_qualified", "Every active annotator is qualified")
def annotators_qualified(project: Project) -> CheckResult:
    from annotation.models import AnnotatorState
    from annotation.selectors.team import active_unqualified_annotators
    from dmops.models import Membership

    waiting = list(active_unqualified_annotators(project).values_list("username", flat=True))
    if waiting:
        shown = ", ".join(waiting[:5])
        more = f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
        return CheckResult(False, f"Not qualified yet: {shown}{more}.")
    qualified = AnnotatorState.objects.filter(
        project=project,
        paused=False,
        qualified_at__isnull=False,
        user__memberships__project=project,
        user__memberships__role=Membership.Role.ANNOTATOR,
    ).count()
    if qualified == 0:
        return CheckResult(False, "No active annotator to instruct.")
    return CheckResult(True, f"All {qualified} active annotators are qualified.")
