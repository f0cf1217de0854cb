"""Step 6 pages: the team roster, inviting people, pausing annotators, accepting invitations.

Every member sees the roster. Managers and reviewers see the figures (e-mails, training,
annotations, last activity) and pending invitations; annotators see names, roles and statuses
only, never another person's e-mail. Only managers invite, pause, remove and withdraw.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import Invitation
from annotation.selectors import team as selectors
from annotation.services import team as services
from dmops import services as dmops_services
from dmops.models import Membership
from dmops.selectors import project_for_member
from dmops.steps import evaluate_checks


class InviteForm(forms.Form):
    identifier = forms.CharField(
        max_length=254,
        label="Username or e-mail",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "placeholder": "ana or ana@example.org"}
        ),
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR)


def _require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}.")


def _context(project, role: str, form: InviteForm | None = None) -> dict:
    return {
        "project": project,
        "role": role,
        "is_manager": role == Membership.Role.MANAGER,
        "sees_details": role in (Membership.Role.MANAGER, Membership.Role.REVIEWER),
        "roster": selectors.roster(project),
        "form": form or InviteForm(),
        "checks": evaluate_checks(project, 6),
    }


def _roster_response(request: HttpRequest, project, role: str, *, form=None, status=200):
    """htmx swaps the roster panel; without JavaScript, the page."""
    template = "annotation/team/team.html"
    if request.htmx:
        template += "#roster"
    return render(request, template, _context(project, role, form), status=status)


def _after_action(request: HttpRequest, project, role: str, done: str, error: str | None):
    if request.htmx:
        context = _context(project, role)
        context["panel_error"], context["panel_done"] = error, None if error else done
        return render(request, "annotation/team/team.html#roster", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("team", project_id=project.pk)


@login_required
@require_http_methods(["GET", "POST"])
def team_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """GET: the roster. POST (managers): invite someone by username or e-mail."""
    project, role = project_for_member(request.user, project_id)
    if request.method == "GET":
        return _roster_response(request, project, role)
    _require_manager(role, "invite people")
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invited = services.member_invite(project=project, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            if isinstance(invited, Invitation):
                done = f"Invitation for {invited.email} created: send them its link below."
            else:
                done = f"{invited.user.username} added as {invited.get_role_display().lower()}."
            return _after_action(request, project, role, done, None)
    # htmx only swaps 2xx answers, so the refused form comes back with 200 there.
    return _roster_response(request, project, role, form=form, status=200 if request.htmx else 400)


@login_required
@require_POST
def annotator_pause(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    """Pause (``paused=1``) or resume (``paused=0``) a member; pausing releases their leases."""
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "pause annotators")
    user = get_object_or_404(get_user_model(), pk=user_id)
    paused = request.POST.get("paused") == "1"
    error = None
    try:
        services.annotator_pause(project=project, by=request.user, user=user, paused=paused)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if paused:
        done = f"{user.username} paused; the items they held went back to the pool."
    else:
        done = f"{user.username} resumed."
    return _after_action(request, project, role, done, error)


@login_required
@require_POST
def member_remove(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "remove members")
    user = get_object_or_404(get_user_model(), pk=user_id)
    error = None
    try:
        dmops_services.member_remove(project=project, by=request.user, user=user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    return _after_action(request, project, role, f"{user.username} removed.", error)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, project_id: int, invitation_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "withdraw invitations")
    invitation = selectors.invitation_for_manager(project, invitation_id)
    error = None
    try:
        services.invitation_revoke(invitation=invitation, by=request.user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    return _after_action(
        request, project, role, f"Invitation for {invitation.email} withdrawn.", error
    )


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET: what the invitation is for, with an Accept button. POST: join the project."""
    invitation = selectors.invitation_by_token(token)
    errors: list[str] = []
    if request.method == "POST":
        try:
            services.invitation_accept(token=token, user=request.user)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, f"Welcome to {invitation.project.name}.")
            return redirect(invitation.project)
    context = {
        "invitation": invitation,
        "status": services.invitation_status(invitation),
        "errors": errors,
    }
    return render(request, "annotation/team/accept.html", context, status=400 if errors else 200)


urlpatterns = [
    path("projects/<int:project_id>/team/", team_page, name="team"),
    path(
        "projects/<int:project_id>/team/<int:user_id>/pause/",
        annotator_pause,
        name="team_pause",
    ),
    path(
        "projects/<int:project_id>/team/<int:user_id>/remove/",
        member_remove,
        name="team_member_remove",
    ),
    path(
        "projects/<int:project_id>/team/invitations/<int:invitation_id>/revoke/",
        invitation_revoke,
        name="invitation_revoke",
    ),
    path("invitations/<str:token>/", invitation_accept, name="invitation_accept"),
]
