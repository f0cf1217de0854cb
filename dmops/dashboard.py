"""Badges on the dashboard: small counts that call for a user's attention on a project.

``dmops`` knows nothing of questions, reviews or items, so each app registers a badge source
from its ``AppConfig.ready()``, as it does for gate checks and demo seeders. A source is
``fn(projects, user) -> {project_id: Badge}`` and should answer for all projects in one query:
the dashboard lists every project of the user.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmops.models import Project


@dataclass(frozen=True)
class Badge:
    label: str
    count: int
    url: str


BadgeSource = Callable[[Sequence["Project"], object], dict[int, Badge]]

_SOURCES: dict[str, BadgeSource] = {}


def register_dashboard_badge(fn: BadgeSource) -> BadgeSource:
    """Decorator (or plain call): add a badge source. Registering the same function twice keeps
    one (``ready()`` may run more than once in tests)."""
    _SOURCES[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def badge_sources() -> list[BadgeSource]:
    return list(_SOURCES.values())


def badges_for(projects: Sequence[Project], user) -> dict[int, list[Badge]]:
    """Every registered source's badges, per project id, in registration order. Sources leave
    out projects with nothing to show."""
    by_project: dict[int, list[Badge]] = {}
    if not projects:
        return by_project
    for source in badge_sources():
        for project_id, badge in source(projects, user).items():
            by_project.setdefault(project_id, []).append(badge)
    return by_project
