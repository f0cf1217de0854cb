from __future__ import annotations

from django.apps import AppConfig


class DmopsConfig(AppConfig):
    name = "dmops"
    verbose_name = "DMOps lifecycle"

    def ready(self) -> None:
        from dmops import gates  # noqa: F401  registers the step 1 and step 6 checks
