"""Jobs whose worker died: imports left "running", releases left "building", pre-processing
runs left "running".

A Celery worker killed mid-job (out of memory, a deploy, its hard time limit) takes the job's
transaction with it, so the job's work is undone; but the job's status was committed before
the work began, and nothing is left to change it. The sweeper fails such jobs with a message
that says what to do, and cleans up as the job's own failure path does.

The rule: a job is stale when it has shown no sign of life for
``settings.DMOPS_STALE_JOB_SECONDS``. Imports and release builds report progress as they go
(``updated_at`` is their heartbeat); a pre-processing run holds its row locked while it runs
instead. The default timeout is twice the longest hard time limit of these jobs, and a live
job cannot go longer without a sign of life than its hard time limit, so it is never failed.

Each kind's rule and cleanup live with its service; this module only sets the cutoff. Run by
Celery beat (``sweep-stale-jobs``) and by ``manage.py sweep_stale_jobs``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from annotation.services.preprocessing import preprocessing_runs_fail_stale
from annotation.services.release_build import releases_fail_stale
from annotation.services.sources import import_jobs_fail_stale

logger = logging.getLogger(__name__)


def stale_jobs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Fail every import, release build and pre-processing run with no sign of life for
    ``DMOPS_STALE_JOB_SECONDS``; how many of each. Safe to run twice, or in two places at
    once: each job is failed by a conditional UPDATE."""
    before = (now or timezone.now()) - timedelta(seconds=settings.DMOPS_STALE_JOB_SECONDS)
    swept = {
        "imports": import_jobs_fail_stale(before=before),
        "releases": releases_fail_stale(before=before),
        "preprocessing_runs": preprocessing_runs_fail_stale(before=before),
    }
    if any(swept.values()):
        logger.warning("Failed jobs whose worker stopped: %s", swept)
    return swept
