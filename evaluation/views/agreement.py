"""Step 9 pages: pilots and their agreement, every agreement report, the quality thresholds.

Members read; only managers start pilots, run reports, set thresholds and open the main
batches. Annotators in blind mode see only the reports of closed batches.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Batch
from annotation.services import pilot as pilot_services
from dmops.models import Membership
from dmops.selectors import project_for_member
from dmops.steps import evaluate_checks
from evaluation.models import RELIABLE_ALPHA, AgreementReport
from evaluation.selectors import agreement as selectors
from evaluation.services import agreement as services

COEFFICIENTS = (
    ("percent_agreement", "Observed agreement"),
    ("krippendorff_alpha", "Krippendorff's α (nominal)"),
    ("fleiss_kappa", "Fleiss' κ"),
    ("gwet_ac1", "Gwet's AC1"),
)

# The pages that show the settings form, and where saving it returns to.
SETTINGS_PAGES = ("agreement", "quality", "review")


class PilotForm(forms.Form):
    size = forms.IntegerField(min_value=2, max_value=1000, initial=10)


class SettingsForm(forms.Form):
    alpha_threshold = forms.FloatField(min_value=-1, max_value=1)
    gold_accuracy_min = forms.FloatField(min_value=0, max_value=1)
    low_confidence_threshold = forms.FloatField(min_value=0, max_value=1)
    spot_check_percent = forms.FloatField(min_value=0, max_value=100)
    acceptance_threshold = forms.FloatField(min_value=0, max_value=1)
    blind_mode = forms.BooleanField(required=False)


def _require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}.")


def _bar(value: float | None) -> float:
    """Width in percent of a bar on a 0..1 scale (negative alphas draw nothing)."""
    return 0.0 if value is None else max(0.0, min(1.0, value)) * 100


def _heat(value: float | None) -> str:
    """A background colour for an agreement figure: red at 0 or below, green at 1."""
    if value is None:
        return "#eceef2"
    hue = max(0.0, min(1.0, value)) * 120
    return f"hsl({hue:.0f}, 65%, 82%)"


@login_required
@require_GET
def agreement_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    settings = selectors.quality_settings_for(project)
    history = selectors.pilot_history(project)
    pilots = list(selectors.pilot_batches(project))
    context: dict[str, Any] = {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "sees_all": selectors.can_see_reports(role),
        "settings": settings,
        "reliable": RELIABLE_ALPHA,
        "threshold_left": _bar(settings.alpha_threshold),
        "reliable_left": _bar(RELIABLE_ALPHA),
        "history": [(r, _bar(r.alpha)) for r in history],
        "pilots": [(b, selectors.batch_is_complete(b)) for b in pilots],
        "reports": selectors.report_list(project, role),
        "batches": selectors.batches_for_reports(project) if role == "manager" else [],
        "checks": evaluate_checks(project, 9),
        "pilot_form": PilotForm(),
        "settings_form": SettingsForm(initial=_settings_initial(settings)),
    }
    return render(request, "evaluation/agreement.html", context)


def _settings_initial(settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in services.SETTINGS_FIELDS}


@login_required
@require_POST
def pilot_create(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "start a pilot")
    form = PilotForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Give a pilot size between 2 and 1000.")
        batch = pilot_services.pilot_batch_create(
            project=project, by=request.user, size=form.cleaned_data["size"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{batch.name} opened: {batch.overlap} annotators per item.")
    return redirect("agreement", project_id=project.pk)


@login_required
@require_POST
def report_request(request: HttpRequest, project_id: int, batch_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "run agreement reports")
    batch = get_object_or_404(Batch, project=project, pk=batch_id)
    try:
        report = services.agreement_report_request(batch=batch, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("agreement", project_id=project.pk)
    return redirect("agreement_report", project_id=project.pk, report_id=report.pk)


@login_required
@require_POST
def settings_update(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "set quality thresholds")
    form = SettingsForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError([f"{k}: {' '.join(v)}" for k, v in form.errors.items()])
        services.quality_settings_update(project=project, by=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Quality thresholds saved.")
    back = request.POST.get("next")
    return redirect(back if back in SETTINGS_PAGES else "agreement", project_id=project.pk)


@login_required
@require_POST
def main_batches_open(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "open the main batches")
    try:
        opened = services.main_batches_open(project=project, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{len(opened)} main batches opened.")
    return redirect("agreement", project_id=project.pk)


def _report_context(report: AgreementReport) -> dict[str, Any]:
    """Shape the stored figures for the page: coefficient rows, the κ heatmap, confusion."""
    results = report.results or {}
    if not results:
        return {}
    names = [a["username"] for a in results.get("annotators", [])]
    pairwise = results["cohen_kappa"]["pairwise"]
    heatmap = [(names[i], [(v, _heat(v)) for v in row]) for i, row in enumerate(pairwise)]
    confusion = results["confusion"]
    return {
        "coefficients": [(label, results[key]) for key, label in COEFFICIENTS],
        "names": names,
        "heatmap": heatmap,
        "mean_kappa": results["cohen_kappa"]["mean"],
        "confusion": list(zip(confusion["labels"], confusion["pairs"], strict=True)),
        "confusion_labels": confusion["labels"],
        "per_label": results["per_label"],
        "skew": results["prevalence_skew"],
        "disagreement": results["disagreement"],
        "bootstrap": results["bootstrap"],
    }


@login_required
@require_GET
def report_page(request: HttpRequest, project_id: int, report_id: int) -> HttpResponse:
    """One report. While it is being computed, the body polls itself (htmx) until done."""
    project, role = project_for_member(request.user, project_id)
    report = selectors.report_for_member(project, role, report_id)
    context = {
        "project": project,
        "report": report,
        "is_manager": role == Membership.Role.MANAGER,
        "settings": selectors.quality_settings_for(project),
        "reliable": RELIABLE_ALPHA,
        "working": report.status
        in (AgreementReport.Status.PENDING, AgreementReport.Status.RUNNING),
        **_report_context(report),
    }
    template = "evaluation/report.html"
    if request.htmx:
        template += "#report-body"
    return render(request, template, context)


urlpatterns = [
    path("projects/<int:project_id>/agreement/", agreement_page, name="agreement"),
    path("projects/<int:project_id>/agreement/pilot/", pilot_create, name="pilot_create"),
    path(
        "projects/<int:project_id>/agreement/batches/<int:batch_id>/report/",
        report_request,
        name="agreement_report_request",
    ),
    path(
        "projects/<int:project_id>/agreement/reports/<int:report_id>/",
        report_page,
        name="agreement_report",
    ),
    path("projects/<int:project_id>/quality/settings/", settings_update, name="quality_settings"),
    path(
        "projects/<int:project_id>/agreement/open-main/",
        main_batches_open,
        name="main_batches_open",
    ),
]
