"""Step 3: run a configured pre-processing pass over a project's items, and undo it.

Every run starts from the raw text as imported, so runs do not stack: the last applied run
alone decides what annotators see. Raw text is kept, so a run can be reverted until step 3 is
signed off.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from annotation.models import Item, PreprocessingRun
from annotation.preprocessing import PreprocessingConfig, PreprocessingReport, plan
from dmops.errors import DomainError
from dmops.models import Project, StepState

BATCH = 2000
PREVIEW_LIMIT = 20_000


def _require_manager(project: Project, user) -> None:
    if not project.is_manager(user):
        raise PermissionDenied("Only a project manager can run pre-processing.")


def _require_step_open(project: Project) -> None:
    if StepState.objects.filter(project=project, key=3, status=StepState.Status.DONE).exists():
        raise DomainError(
            "Step 3 is signed off, so pre-processing is frozen. Reopen step 3 to change it."
        )


def parse_config(data: dict[str, Any]) -> PreprocessingConfig:
    """Validate a config dict from a form or the API; unknown keys or bad values are refused."""
    try:
        return PreprocessingConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise DomainError({"config": str(exc)}) from exc


def _raw_texts(project: Project) -> Iterator[tuple[int, str]]:
    rows = Item.objects.filter(project=project).order_by("source_id", "position")
    yield from rows.values_list("pk", "raw_text").iterator(chunk_size=BATCH)


def preprocessing_preview(*, project: Project, by, config: dict[str, Any]) -> dict[str, Any]:
    """What a run would do, without writing: counts per rule, PII per type, examples.

    Reads at most ``PREVIEW_LIMIT`` items so the page answers quickly on large projects; the
    report says how many it looked at.
    """
    _require_manager(project, by)
    parsed = parse_config(config)
    report = PreprocessingReport()

    def limited() -> Iterator[tuple[int, str]]:
        for n, pair in enumerate(_raw_texts(project)):
            if n >= PREVIEW_LIMIT:
                return
            yield pair

    for _ in plan(limited(), parsed, report):
        pass
    return {**report.to_dict(), "sampled": report.total, "limit": PREVIEW_LIMIT}


@transaction.atomic
def preprocessing_run_start(*, project: Project, by, config: dict[str, Any]) -> PreprocessingRun:
    """Record a run and queue it. Managers only; refused once step 3 is signed off."""
    _require_manager(project, by)
    _require_step_open(project)
    parsed = parse_config(config)
    run = PreprocessingRun.objects.create(project=project, config=parsed.to_dict(), created_by=by)
    from annotation.celery_tasks import run_preprocessing

    transaction.on_commit(lambda: run_preprocessing.delay(run.pk))
    return run


def _reset_to_raw(project: Project) -> None:
    from django.db.models import F

    Item.objects.filter(project=project).exclude(
        text=F("raw_text"), is_active=True, dropped_by=""
    ).update(text=F("raw_text"), is_active=True, dropped_by="")


def preprocessing_run_execute(*, run_id: int) -> PreprocessingRun | None:
    """Apply a queued run in one transaction. Safe to call twice: only a RUNNING run without a
    finish time is executed, and the row is locked while it runs. If it fails, nothing it did
    stays and the run is marked failed with the error."""
    try:
        return _execute(run_id)
    except Exception as exc:
        PreprocessingRun.objects.filter(pk=run_id, status=PreprocessingRun.Status.RUNNING).update(
            status=PreprocessingRun.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise


STALE_RUN_ERROR = (
    "The worker stopped before the run finished; no item was changed. Start the run again."
)


def preprocessing_runs_fail_stale(*, before: datetime) -> int:
    """Fail every running run created before *before* whose row no transaction holds: its
    worker died. A run reports no progress; instead its job holds the row (FOR UPDATE) from
    start to finish, and a dead worker's connection, transaction and lock end with it. Items
    were left as they were. Returns how many failed."""
    with transaction.atomic():
        stale = PreprocessingRun.objects.select_for_update(skip_locked=True).filter(
            status=PreprocessingRun.Status.RUNNING, created_at__lt=before
        )
        return PreprocessingRun.objects.filter(
            pk__in=list(stale.values_list("pk", flat=True))
        ).update(
            status=PreprocessingRun.Status.FAILED, error=STALE_RUN_ERROR, finished_at=timezone.now()
        )


def _execute(run_id: int) -> PreprocessingRun | None:
    with transaction.atomic():
        run = (
            PreprocessingRun.objects.select_for_update()
            .filter(pk=run_id, status=PreprocessingRun.Status.RUNNING, finished_at=None)
            .select_related("project")
            .first()
        )
        if run is None:
            return None
        project = run.project
        config = PreprocessingConfig.from_dict(run.config)
        report = PreprocessingReport()
        _reset_to_raw(project)
        pending: list[Item] = []
        for decision in plan(_raw_texts(project), config, report):
            if decision.keep and decision.text is None:
                continue
            item = Item(pk=decision.item_id, is_active=decision.keep)
            item.text = decision.text if decision.text is not None else ""
            item.dropped_by = "" if decision.keep else (decision.rule or "")
            pending.append(item)
            if len(pending) >= BATCH:
                _write(pending)
                pending = []
        _write(pending)
        run.status, run.finished_at = PreprocessingRun.Status.APPLIED, timezone.now()
        run.report = report.to_dict()
        run.save(update_fields=["status", "finished_at", "report"])
        return run


def _write(items: list[Item]) -> None:
    changed = [i for i in items if i.is_active]
    dropped = [i for i in items if not i.is_active]
    if changed:
        Item.objects.bulk_update(changed, ["text"], batch_size=BATCH)
    if dropped:
        Item.objects.bulk_update(dropped, ["is_active", "dropped_by"], batch_size=BATCH)


@transaction.atomic
def preprocessing_revert(*, project: Project, by) -> PreprocessingRun:
    """Undo the last applied run: every item shows its raw text again and nothing is dropped."""
    _require_manager(project, by)
    _require_step_open(project)
    run = (
        PreprocessingRun.objects.select_for_update()
        .filter(project=project, status=PreprocessingRun.Status.APPLIED)
        .order_by("-finished_at", "-pk")
        .first()
    )
    if run is None:
        raise DomainError("There is no applied pre-processing run to revert.")
    _reset_to_raw(project)
    run.status = PreprocessingRun.Status.REVERTED
    run.save(update_fields=["status"])
    return run
