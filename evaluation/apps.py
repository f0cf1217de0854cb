from __future__ import annotations

from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"
    verbose_name = "Evaluation"

    def ready(self) -> None:
        from annotation.selectors.team import register_roster_flags
        from evaluation import datasheet, gates  # noqa: F401  gate checks, datasheet sections
        from evaluation.selectors.flags import gold_flagged_annotators

        # Annotators below the gold-accuracy minimum show as flagged on the team roster.
        register_roster_flags(gold_flagged_annotators)
