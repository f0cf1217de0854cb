from __future__ import annotations

from django.core.management.base import BaseCommand

from annotation.services.stale_jobs import stale_jobs_sweep


class Command(BaseCommand):
    help = (
        "Mark failed the imports, release builds and pre-processing runs whose worker stopped "
        "(no progress for DMOPS_STALE_JOB_SECONDS). Celery beat runs this every 5 minutes."
    )

    def handle(self, *args, **options) -> None:
        swept = stale_jobs_sweep()
        summary = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in swept.items())
        self.stdout.write(f"Failed stale jobs: {summary}.")
