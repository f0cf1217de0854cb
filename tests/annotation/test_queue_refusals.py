"""Who the queue refuses (paused annotators, annotators who have not qualified) and who it
does not know (non-members, missing projects), on every combination of role, pause, rule and
qualification."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from annotation import queue
from annotation.models import AnnotatorState, Lease, QualificationRule
from dmops.models import Membership, Project
from tests.annotation.builders import make_batch, make_items
from tests.dmops.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("members_only", [False, True])
@pytest.mark.parametrize("qualified", [False, True])
@pytest.mark.parametrize("has_rule", [False, True])
@pytest.mark.parametrize("paused", [False, True])
@pytest.mark.parametrize("role", [*Membership.Role.values, None])
def test_next_item_refuses_exactly_when_work_refusal_says_why(
    project, role, paused, has_rule, qualified, members_only
):
    # On PostgreSQL next_item decides in dmops_next_item and work_refusal in Python: the same
    # rule written twice, compared here on every combination.
    make_batch(project, make_items(project, 2))
    user = UserFactory(username="worker")
    if role is not None:
        Membership.objects.create(project=project, user=user, role=role)
    if has_rule:
        QualificationRule.objects.create(project=project, min_correct=1)
    if paused or qualified:
        qualified_at = timezone.now() if qualified else None
        AnnotatorState.objects.create(
            project=project, user=user, paused=paused, qualified_at=qualified_at
        )
    must_qualify = has_rule and role == Membership.Role.ANNOTATOR and not qualified
    expected = "paused" if paused else "not_qualified" if must_qualify else None
    assert queue.work_refusal(project=project, annotator=user) == expected
    if members_only and role is None:
        with pytest.raises(PermissionDenied):
            queue.next_item(project=project, annotator=user, members_only=True)
        assert not Lease.objects.exists()
        return
    lease = queue.next_item(project=project, annotator=user, members_only=members_only)
    assert (lease is None) == (expected is not None)
    assert Lease.objects.filter(annotator=user).count() == (0 if expected else 1)


def test_next_item_for_a_project_that_does_not_exist(annotator):
    missing = Project(pk=987654)
    assert queue.next_item(project=missing, annotator=annotator) is None
    with pytest.raises(Project.DoesNotExist):
        queue.next_item(project=missing, annotator=annotator, members_only=True)
