from __future__ import annotations

from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Data and annotation"

    def ready(self) -> None:
        # Importing these registers the step 2–5 and 12 gate checks and the demo data.
        from annotation import demo, gates  # noqa: F401
