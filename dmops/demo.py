"""The demo project the README's first command loads.

Each app adds its own demo content through ``register_demo_seeder`` from ``AppConfig.ready()``,
as it does for gate checks, so ``dmops`` never imports the apps that build on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from dmops import services
from dmops.models import Membership, Project

DEMO_PROJECT_NAME = "WikiSQE: does this sentence need a citation?"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str


DEMO_USERS = (
    DemoUser("maya", "maya-demo-2026", Membership.Role.MANAGER),
    DemoUser("rui", "rui-demo-2026", Membership.Role.REVIEWER),
    DemoUser("ana", "ana-demo-2026", Membership.Role.ANNOTATOR),
    DemoUser("ali", "ali-demo-2026", Membership.Role.ANNOTATOR),
    DemoUser("olga", "olga-demo-2026", ""),  # an outsider: on no project
)

_SEEDERS: list[Callable[[Project, dict], None]] = []


def register_demo_seeder(fn: Callable[[Project, dict], None]) -> Callable[[Project, dict], None]:
    if fn not in _SEEDERS:
        _SEEDERS.append(fn)
    return fn


@transaction.atomic
def load_demo() -> tuple[Project, tuple[DemoUser, ...]]:
    """Create (or reset) the demo users and project. Idempotent: running it twice changes nothing
    but the demo users' passwords, which it resets to the printed ones."""
    User = get_user_model()
    users = {}
    for demo in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=demo.username)
        user.set_password(demo.password)
        user.is_staff = user.is_superuser = demo.role == Membership.Role.MANAGER
        user.save()
        users[demo.username] = user
    project = Project.objects.filter(name=DEMO_PROJECT_NAME).first()
    if project is None:
        project = services.project_create(
            name=DEMO_PROJECT_NAME,
            description="Verify WikiSQE-style inline-cleanup labels on Wikipedia sentences.",
            created_by=users["maya"],
        )
        for demo in DEMO_USERS:
            if demo.role and demo.role != Membership.Role.MANAGER:
                services.member_add(
                    project=project, by=users["maya"], username=demo.username, role=demo.role
                )
        for seed in _SEEDERS:
            seed(project, users)
    return project, DEMO_USERS
