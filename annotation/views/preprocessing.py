"""Step 3 page: configure, preview, apply and revert pre-processing."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from annotation.preprocessing import PII_KINDS
from annotation.selectors.preprocessing import preprocessing_runs
from annotation.services import preprocessing as service
from dmops.models import Membership
from dmops.selectors import project_for_member


class PreprocessingForm(forms.Form):
    normalise = forms.BooleanField(
        required=False, initial=True, label="Normalise Unicode and whitespace"
    )
    nfkc = forms.BooleanField(required=False, label="Compatibility folding (NFKC)")
    dedupe = forms.ChoiceField(
        choices=[
            ("exact", "Exact duplicates"),
            ("loose", "Normalised duplicates (case, punctuation)"),
            ("", "Keep duplicates"),
        ],
        initial="exact",
        required=False,
    )
    min_words = forms.IntegerField(required=False, min_value=0, label="Minimum words")
    max_words = forms.IntegerField(required=False, min_value=0, label="Maximum words")
    require_capital = forms.BooleanField(required=False, label="Must start with a capital letter")
    pii_kinds = forms.MultipleChoiceField(
        choices=[(k, k) for k in PII_KINDS],
        initial=list(PII_KINDS),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="PII to detect",
    )
    pii_action = forms.ChoiceField(
        choices=[("mask", "Mask it"), ("drop", "Drop the item"), ("", "Leave it")],
        initial="mask",
        required=False,
        label="When PII is found",
    )
    drop_bad_charset = forms.BooleanField(required=False, initial=True, label="Drop garbled text")

    def config(self) -> dict:
        data = dict(self.cleaned_data)
        data["dedupe"] = data["dedupe"] or None
        data["pii_action"] = data["pii_action"] or None
        return data


def _context(project, role, form, **extra) -> dict:
    return {
        "project": project,
        "form": form,
        "runs": preprocessing_runs(project),
        "is_manager": role == Membership.Role.MANAGER,
        **extra,
    }


@login_required
def preprocessing_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    context = _context(project, role, PreprocessingForm())
    template = "annotation/preprocessing.html"
    if request.htmx and request.GET.get("fragment") == "runs":
        template += "#runs"
    return render(request, template, context)


@login_required
@require_POST
def preprocessing_action(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    action = request.POST.get("action", "preview")
    form = PreprocessingForm(request.POST)
    preview, errors = None, []
    try:
        if action == "revert":
            service.preprocessing_revert(project=project, by=request.user)
            messages.success(request, "Pre-processing reverted: items show their raw text again.")
        elif not form.is_valid():
            errors = [f"{k}: {' '.join(v)}" for k, v in form.errors.items()]
        elif action == "apply":
            service.preprocessing_run_start(project=project, by=request.user, config=form.config())
            messages.success(request, "Pre-processing run started.")
        else:
            preview = service.preprocessing_preview(
                project=project, by=request.user, config=form.config()
            )
    except ValidationError as exc:
        errors = exc.messages
    if request.htmx and action == "preview":
        context = _context(project, role, form, preview=preview, errors=errors)
        return render(request, "annotation/preprocessing.html#preview", context)
    if errors:
        context = _context(project, role, form, preview=preview, errors=errors)
        return render(request, "annotation/preprocessing.html", context, status=400)
    if preview is not None:
        return render(
            request, "annotation/preprocessing.html", _context(project, role, form, preview=preview)
        )
    return redirect("preprocessing", project_id=project.pk)


urlpatterns = [
    path("projects/<int:project_id>/preprocessing/", preprocessing_page, name="preprocessing"),
    path(
        "projects/<int:project_id>/preprocessing/run/",
        preprocessing_action,
        name="preprocessing_action",
    ),
]
