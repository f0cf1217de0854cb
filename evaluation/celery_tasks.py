"""Celery entry points of the evaluation app. Each takes ids, re-reads rows and calls one service;
a status guard makes running it twice harmless."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

# --- steps 9–10: agreement reports and aggregation -------------------------------------------


@shared_task(soft_time_limit=600, time_limit=660, acks_late=True)
def compute_agreement_report(report_id: int) -> None:
    """Compute one agreement report. Only a waiting report is claimed (a conditional UPDATE),
    so a redelivered or repeated job does nothing and the batch keeps one report."""
    from evaluation.services.agreement import (
        agreement_report_claim,
        agreement_report_compute,
        agreement_report_fail,
    )

    if not agreement_report_claim(report_id=report_id):
        return
    try:
        agreement_report_compute(report_id=report_id)
    except Exception as exc:  # the report shows the failure; the job is not retried
        logger.exception("Agreement report %s failed", report_id)
        agreement_report_fail(report_id=report_id, error=str(exc) or exc.__class__.__name__)


@shared_task(soft_time_limit=300, time_limit=360, acks_late=True)
def sweep_pilot_reports() -> int:
    """Periodic (Celery beat): request the report of every pilot that has just completed."""
    from evaluation.services.agreement import agreement_reports_sweep

    return agreement_reports_sweep()


@shared_task(soft_time_limit=1800, time_limit=1900, acks_late=True)
def aggregate_labels(project_id: int, user_id: int, method: str) -> int | None:
    """Aggregate a project's judgements into final labels (the write is idempotent)."""
    from django.contrib.auth import get_user_model

    from dmops.models import Project
    from evaluation.services.quality import labels_aggregate

    project = Project.objects.filter(pk=project_id).first()
    user = get_user_model().objects.filter(pk=user_id).first()
    if project is None or user is None:
        return None
    return labels_aggregate(project=project, by=user, method=method).pk


# --- end of steps 9–10 -----------------------------------------------------------------------

# --- step 11: model verification runs --------------------------------------------------------


@shared_task(soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300, acks_late=True)  # see JOB_*_LIMIT
def compute_verification_run(run_id: int) -> None:
    """Compute one verification run. Only a waiting run is claimed (a conditional UPDATE), so a
    redelivered or repeated job does nothing and the run keeps one report. Progress is written
    on the run row; a cancel request stops the job between stages."""
    from celery.exceptions import SoftTimeLimitExceeded

    from evaluation.services.verification import (
        verification_run_claim,
        verification_run_compute,
        verification_run_fail,
    )

    if not verification_run_claim(run_id=run_id):
        return
    try:
        verification_run_compute(run_id=run_id)
    except SoftTimeLimitExceeded:
        verification_run_fail(run_id=run_id, error="The run took too long and was stopped.")
    except Exception as exc:  # the run shows the failure; the job is not retried
        logger.exception("Verification run %s failed", run_id)
        verification_run_fail(run_id=run_id, error=str(exc) or exc.__class__.__name__)


# --- end of step 11 --------------------------------------------------------------------------
