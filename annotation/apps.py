from __future__ import annotations

from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Data and annotation"

    def ready(self) -> None:
        from annotation import gates  # noqa: F401  registers the step 2–5 checks
