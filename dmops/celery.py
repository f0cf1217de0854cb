"""The Celery app. Jobs live in each app's ``celery_tasks`` module ("task" is a domain word)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmops.settings")

app = Celery("dmops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="celery_tasks")
