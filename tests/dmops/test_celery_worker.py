"""A real Celery worker over Redis runs a job end to end (CI sets DMOPS_TEST_REDIS_URL).

Everywhere else the suite runs jobs in-process (no broker configured); this test proves the
production path: the web process only enqueues, a separate worker process does the work
against the same database, and the result comes back through the broker.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from celery.backends.redis import RedisBackend
from celery.result import AsyncResult
from django.conf import settings
from django.db import connection
from django.utils import timezone

from annotation.models import ImportJob, Item, PreprocessingRun, Source
from dmops.celery import app as celery_app

REDIS_URL = os.environ.get("DMOPS_TEST_REDIS_URL")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not REDIS_URL, reason="set DMOPS_TEST_REDIS_URL to run a real worker"),
]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def worker():
    if connection.vendor == "sqlite":
        pytest.skip("a worker process cannot share an in-memory SQLite test database")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dmops",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=settings.BASE_DIR,
        env=env,
    )
    keys = ("broker_url", "result_backend", "task_always_eager")
    previous = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(broker_url=REDIS_URL, result_backend=REDIS_URL, task_always_eager=False)
    yield process
    celery_app.conf.update(previous)
    process.terminate()
    process.wait(timeout=30)


def test_worker_applies_a_preprocessing_run_sent_through_redis(project, manager, worker):
    source = Source.objects.create(
        project=project, name="s", format="text", licence="cc0-1.0", created_by=manager
    )
    job = ImportJob.objects.create(
        project=project,
        source=source,
        file_name="f",
        status="succeeded",
        finished_at=timezone.now(),
    )
    texts = ["Write to me at someone@example.com about the survey results.", "Short one."]
    for n, text in enumerate(texts):
        Item.objects.create(
            project=project,
            source=source,
            import_job=job,
            position=n,
            text=text,
            raw_text=text,
            text_hash=hashlib.sha256(text.encode()).hexdigest(),
        )
    run = PreprocessingRun.objects.create(
        project=project, config={"min_words": 3}, created_by=manager
    )

    # Explicit connection and backend: earlier tests may already have built the app's
    # (in-process) ones, which are cached for the life of the process.
    backend = RedisBackend(app=celery_app, url=REDIS_URL)
    with celery_app.connection_for_write(REDIS_URL) as conn:
        sent = celery_app.send_task(
            "annotation.celery_tasks.run_preprocessing", args=[run.pk], connection=conn
        )
    AsyncResult(sent.id, backend=backend).get(timeout=120)  # raises if the job failed

    run.refresh_from_db()
    assert run.status == "applied" and run.report["kept"] == 1
    kept = Item.objects.get(is_active=True)
    assert kept.text == "Write to me at [EMAIL] about the survey results."
