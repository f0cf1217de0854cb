"""Permission classes of the evaluation API, used after ``dmops.api.IsProjectMember``."""

from __future__ import annotations

from rest_framework import permissions

from dmops.models import Membership


class IsProjectManager(permissions.BasePermission):
    """The user manages the project, whatever the method."""

    message = "Only a project manager can do this."

    def has_permission(self, request, view) -> bool:
        return view.role == Membership.Role.MANAGER


class IsReviewerOrManager(permissions.BasePermission):
    """Reviewers and managers: the roles that see everyone's judgements."""

    message = "Only reviewers and managers can see this."

    def has_permission(self, request, view) -> bool:
        return view.role in (Membership.Role.MANAGER, Membership.Role.REVIEWER)


class IsManagerOrReadOnly(permissions.BasePermission):
    message = "Only a project manager can change this."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return view.role == Membership.Role.MANAGER
