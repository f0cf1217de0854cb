"""Celery entry points of the annotation app. Each takes ids, re-reads rows and calls one service;
a status guard makes running it twice harmless."""

from __future__ import annotations

from celery import shared_task

# --- step 3: pre-processing -----------------------------------------------------------------


@shared_task(soft_time_limit=3600, time_limit=3900, acks_late=True)
def run_preprocessing(run_id: int) -> None:
    from annotation.services.preprocessing import preprocessing_run_execute

    preprocessing_run_execute(run_id=run_id)
