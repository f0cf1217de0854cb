"""Step 5 pages: read the current guideline, edit and publish versions, diff any two.

Every member reads the guideline, its versions and diffs; only managers open the editor,
preview and publish (anyone else gets a 403 with the reason).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import markdown
from annotation.selectors import guideline as selectors
from annotation.services import guideline as services
from dmops.models import Membership
from dmops.selectors import project_for_member
from dmops.steps import evaluate_checks


class PublishForm(forms.Form):
    body = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "true"}),
        label="Guideline (Markdown)",
    )
    change_summary = forms.CharField(
        required=False, widget=forms.TextInput(), label="What changed in this version"
    )


class DiffForm(forms.Form):
    a = forms.IntegerField(min_value=1, required=False)
    b = forms.IntegerField(min_value=1, required=False)


def _require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}; members can read it.")


@login_required
@require_GET
def guideline_page(request: HttpRequest, project_id: int, number: int | None = None):
    """The current version (or version *number*) with a table of contents per section."""
    project, role = project_for_member(request.user, project_id)
    versions = list(selectors.guideline_versions(project))
    if number is None:
        version = versions[0] if versions else None
    else:
        version = selectors.guideline_version(project, number)
    context = {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "version": version,
        "is_current": version is not None and version.pk == versions[0].pk,
        "rendered": markdown.render(version.body) if version else None,
        "coverage": selectors.guideline_coverage(project, version.body) if version else None,
        "versions": versions,
        "checks": evaluate_checks(project, 5),
    }
    return render(request, "annotation/guideline/guideline.html", context)


def _editor(request, project, form: PublishForm, *, status: int = 200, errors=()):
    body = form["body"].value() or ""
    context = {
        "project": project,
        "form": form,
        "current": selectors.current_guideline(project),
        "rendered": markdown.render(body),
        "coverage": selectors.guideline_coverage(project, body),
        "errors": list(errors),
    }
    template = "annotation/guideline/edit.html"
    if request.htmx and request.GET.get("start") == "schema":
        template += "#editor"
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def guideline_edit(request: HttpRequest, project_id: int) -> HttpResponse:
    """GET: the editor, holding the current version's text, or a skeleton drafted from the
    schema (asked for with ``?start=schema``, and the default before any version exists).
    POST: publish the text as the next version."""
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "edit the guideline")
    if request.method == "GET":
        current = selectors.current_guideline(project)
        if current is None or request.GET.get("start") == "schema":
            body = selectors.guideline_skeleton(project)
        else:
            body = current.body
        return _editor(request, project, PublishForm(initial={"body": body}))
    form = PublishForm(request.POST)
    form.is_valid()
    try:
        version = services.guideline_publish(
            project=project,
            by=request.user,
            body=form.cleaned_data.get("body", ""),
            change_summary=form.cleaned_data.get("change_summary", ""),
        )
    except ValidationError as exc:
        return _editor(request, project, form, status=400, errors=exc.messages)
    messages.success(request, f"Guideline v{version.number} published.")
    return redirect("guideline", project_id=project.pk)


@login_required
@require_POST
def guideline_preview(request: HttpRequest, project_id: int) -> HttpResponse:
    """The editor's live preview: rendered Markdown and the labels the text never mentions."""
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "edit the guideline")
    body = request.POST.get("body", "")
    context = {
        "project": project,
        "rendered": markdown.render(body),
        "coverage": selectors.guideline_coverage(project, body),
    }
    if request.htmx:
        return render(request, "annotation/guideline/edit.html#preview", context)
    return _editor(request, project, PublishForm(request.POST))


@login_required
@require_GET
def guideline_diff(request: HttpRequest, project_id: int) -> HttpResponse:
    """Two versions side by side (``?a=&b=`` are version numbers; default: the last two)."""
    project, _ = project_for_member(request.user, project_id)
    versions = list(selectors.guideline_versions(project))
    form = DiffForm(request.GET)
    chosen = form.cleaned_data if form.is_valid() else {}
    a_number = chosen.get("a") or (versions[1].number if len(versions) > 1 else None)
    b_number = chosen.get("b") or (versions[0].number if versions else None)
    a = selectors.guideline_version(project, a_number) if a_number else None
    b = selectors.guideline_version(project, b_number) if b_number else None
    context = {
        "project": project,
        "versions": versions,
        "a": a,
        "b": b,
        "rows": selectors.guideline_diff(a, b) if a and b else [],
    }
    template = "annotation/guideline/diff.html"
    if request.htmx and request.GET.get("fragment") == "diff":
        template += "#diff"
    return render(request, template, context)


urlpatterns = [
    path("projects/<int:project_id>/guideline/", guideline_page, name="guideline"),
    path(
        "projects/<int:project_id>/guideline/v<int:number>/",
        guideline_page,
        name="guideline_version",
    ),
    path("projects/<int:project_id>/guideline/edit/", guideline_edit, name="guideline_edit"),
    path(
        "projects/<int:project_id>/guideline/preview/",
        guideline_preview,
        name="guideline_preview",
    ),
    path("projects/<int:project_id>/guideline/diff/", guideline_diff, name="guideline_diff"),
]
