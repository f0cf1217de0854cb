"""Annotators to flag on the roster, for annotation's roster page to show.

annotation must not import evaluation, so this is what a hook registered from evaluation's
``AppConfig.ready()`` (or a field written through annotation's services) should call.
"""

from __future__ import annotations

from dmops.models import Project
from evaluation.selectors.agreement import quality_settings_for
from evaluation.selectors.quality import annotator_roster


def gold_flagged_annotators(project: Project) -> dict[int, str]:
    """{user id: reason} for annotators whose accuracy on hidden gold items is below the
    manager's minimum (``QualitySettings.gold_accuracy_min``). Annotators with no judged gold
    item are not flagged: there is no evidence either way."""
    minimum = quality_settings_for(project).gold_accuracy_min
    return {
        row.user_id: (
            f"gold accuracy {row.gold_accuracy:.0%} on {row.n_gold} gold items, "
            f"below the minimum {minimum:.0%}"
        )
        for row in annotator_roster(project)
        if row.flagged
    }
