from __future__ import annotations

# The Celery app is created on Django start-up so @shared_task binds to it.
from dmops.celery import app as celery_app

__all__ = ("celery_app",)
