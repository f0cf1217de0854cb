from __future__ import annotations

from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Data and annotation"

    def ready(self) -> None:
        # Importing these registers the step 2–5 and 12 gate checks and the demo data.
        from annotation import demo, gates  # noqa: F401
        from annotation.selectors.questions import open_questions_badge
        from annotation.services.team import member_leases_release
        from dmops.dashboard import register_dashboard_badge
        from dmops.services import register_member_removed_hook

        register_dashboard_badge(open_questions_badge)
        register_member_removed_hook(member_leases_release)
