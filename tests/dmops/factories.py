from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from dmops import services
from dmops.models import Membership, Project

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")

    @factory.post_generation
    def password(user, create, extracted, **kwargs):
        user.set_password(extracted or PASSWORD)
        if create:
            user.save(update_fields=["password"])


def ProjectFactory(
    *, manager=None, reviewers=(), annotators=(), name: str = "Citation needed?", **goal
) -> Project:
    """A project created through the service, so it has its 12 steps like a real one."""
    manager = manager or UserFactory()
    project = services.project_create(name=name, created_by=manager)
    for user in reviewers:
        Membership.objects.create(project=project, user=user, role=Membership.Role.REVIEWER)
    for user in annotators:
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
    if goal:
        services.project_update(project=project, by=manager, **goal)
    return project


COMPLETE_GOAL = {
    "goal_business_need": "Editors need help finding claims that lack sources.",
    "goal_intended_use": "Train a citation-needed detector.",
    "goal_target_size": 20000,
    "goal_success_metric": "Krippendorff alpha >= 0.8 on the pilot; detector F1 >= 0.7.",
}
