"""htmx pages for projects and their lifecycle: read through selectors, write through services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dmops import selectors, services
from dmops.forms import (
    MemberAddForm,
    ProjectCreateForm,
    ProjectGoalForm,
    StepAssignForm,
    StepTransitionForm,
)
from dmops.models import Membership


def _errors(exc: ValidationError) -> list[str]:
    return exc.messages


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "dmops/dashboard.html", {"summaries": selectors.dashboard(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Project “{project.name}” created. Start with step 1.")
            return redirect(project)
    return render(request, "dmops/project_create.html", {"form": form})


@login_required
def project_board(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = selectors.project_for_member(request.user, project_id)
    context = _board_context(project, role)
    return render(request, "dmops/board.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_goal(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = selectors.project_for_member(request.user, project_id)
    if request.method == "POST" and role != Membership.Role.MANAGER:
        raise PermissionDenied("Only a project manager can edit the project goal.")
    form = ProjectGoalForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        try:
            services.project_update(project=project, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Project goal saved.")
            return redirect(project)
    context = {"project": project, "form": form, "can_edit": role == Membership.Role.MANAGER}
    return render(request, "dmops/goal.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_members(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = selectors.project_for_member(request.user, project_id)
    form = MemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_add(project=project, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = MemberAddForm()
    context = {
        "project": project,
        "members": selectors.member_list(project),
        "form": form,
        "is_manager": role == Membership.Role.MANAGER,
    }
    template = "dmops/members.html#member-panel" if request.htmx else "dmops/members.html"
    return render(request, template, context)


@login_required
@require_POST
def member_remove(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    project, _ = selectors.project_for_member(request.user, project_id)
    user = get_object_or_404(get_user_model(), pk=user_id)
    try:
        services.member_remove(project=project, by=request.user, user=user)
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    if request.htmx:
        context = {
            "project": project,
            "members": selectors.member_list(project),
            "form": MemberAddForm(),
            "is_manager": True,
        }
        return render(request, "dmops/members.html#member-panel", context)
    return redirect("project_members", project_id=project.pk)


def _board_context(project, role: str) -> dict:
    return {
        "project": project,
        "role": role,
        "is_manager": role == Membership.Role.MANAGER,
        "can_edit_notes": role in (Membership.Role.MANAGER, Membership.Role.REVIEWER),
        "cards": selectors.step_board(project),
        "members": selectors.member_list(project),
    }


def _step_response(request: HttpRequest, project, role: str, key: int, errors: list[str]):
    """htmx swaps the whole board: a reopen or a sign-off can change other steps too."""
    if request.htmx:
        context = {**_board_context(project, role), "errors": errors, "error_step": key}
        return render(request, "dmops/board.html#board", context)
    for error in errors:
        messages.error(request, error)
    return redirect(f"{project.get_absolute_url()}#step-{key}")


@login_required
@require_POST
def step_transition(request: HttpRequest, project_id: int, key: int) -> HttpResponse:
    project, role = selectors.project_for_member(request.user, project_id)
    form = StepTransitionForm(request.POST)
    if not form.is_valid():
        return _step_response(request, project, role, key, ["Unknown step action."])
    action, note = form.cleaned_data["action"], form.cleaned_data["note"]
    errors: list[str] = []
    try:
        if action == "start":
            services.step_start(project=project, key=key, by=request.user, note=note)
        elif action == "sign_off":
            services.step_sign_off(project=project, key=key, by=request.user, note=note)
        elif action == "skip":
            services.step_skip(project=project, key=key, by=request.user, reason=note)
        else:
            services.step_reopen(project=project, key=key, by=request.user, reason=note)
    except ValidationError as exc:
        errors = _errors(exc)
    return _step_response(request, project, role, key, errors)


@login_required
@require_POST
def step_assign(request: HttpRequest, project_id: int, key: int) -> HttpResponse:
    project, role = selectors.project_for_member(request.user, project_id)
    form = StepAssignForm(request.POST, project=project)
    errors: list[str] = []
    if form.is_valid():
        try:
            services.step_assign(project=project, key=key, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            errors = _errors(exc)
    else:
        errors = [f"{name}: {' '.join(errs)}" for name, errs in form.errors.items()]
    return _step_response(request, project, role, key, errors)


@login_required
@require_POST
def step_notes(request: HttpRequest, project_id: int, key: int) -> HttpResponse:
    project, role = selectors.project_for_member(request.user, project_id)
    services.step_update_notes(
        project=project, key=key, by=request.user, notes=request.POST.get("notes", "")
    )
    return _step_response(request, project, role, key, [])
