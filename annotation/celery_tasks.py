"""Celery entry points of the annotation app. Each takes ids, re-reads rows and calls one service;
a status guard makes running it twice harmless."""

from __future__ import annotations

from celery import shared_task

# --- step 3: pre-processing -----------------------------------------------------------------


@shared_task(soft_time_limit=3600, time_limit=3900, acks_late=True)
def run_preprocessing(run_id: int) -> None:
    from annotation.services.preprocessing import preprocessing_run_execute

    preprocessing_run_execute(run_id=run_id)


# --- step 2: imports (annotation/services/sources/) -----------------------------------------


@shared_task(soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300, acks_late=True)
def run_import_job(job_id: int) -> None:
    """Import one uploaded file. Only a waiting job is claimed (a conditional UPDATE), so a
    redelivered or repeated task does nothing."""
    from annotation.services.sources import import_job_claim, import_job_run

    if import_job_claim(job_id=job_id):
        import_job_run(job_id=job_id)


# --- end of step 2 ---------------------------------------------------------------------------


# --- jobs whose worker died (annotation/services/stale_jobs.py) -------------------------------


@shared_task(soft_time_limit=300, time_limit=360, acks_late=True)
def sweep_stale_jobs() -> dict[str, int]:
    """Periodic (Celery beat): fail the imports, release builds and pre-processing runs whose
    worker stopped mid-job."""
    from annotation.services.stale_jobs import stale_jobs_sweep

    return stale_jobs_sweep()


# --- step 12: releases and webhooks (annotation/services/releases.py, webhooks.py) ------------

WEBHOOK_MAX_RETRIES = 8  # with backoff 2, 4, … capped at 10 min: about 25 minutes in all


@shared_task(soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300, acks_late=True)
def build_release(release_id: int) -> None:
    """Write a building release's rows, datasheet and files, then publish it (or mark it
    failed). Only a building release is touched and written parts are not redone, so a
    repeated or redelivered task is harmless."""
    from annotation.services.release_build import release_build

    release_build(release_id=release_id)


def _webhook_errors() -> tuple[type[Exception], ...]:
    from annotation.services.webhooks import WebhookDeliveryError

    return (WebhookDeliveryError,)


@shared_task(
    bind=True,
    autoretry_for=_webhook_errors(),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=WEBHOOK_MAX_RETRIES,
    soft_time_limit=60,
    time_limit=90,
    acks_late=True,
)
def deliver_webhook(self, delivery_id: int) -> None:
    """POST one webhook delivery; a delivered one is not sent again."""
    from annotation.services.webhooks import webhook_deliver

    webhook_deliver(
        delivery_id=delivery_id, final_attempt=self.request.retries >= WEBHOOK_MAX_RETRIES
    )


# --- end of step 12 --------------------------------------------------------------------------
