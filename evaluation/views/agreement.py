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
from evaluation.views.agreement_chart import pilot_chart

COEFFICIENTS = (
    ("percent_agreement", "Observed agreement"),
    ("krippendorff_alpha", "Krippendorff's α (nominal)"),
    ("krippendorff_alpha_scale", "Krippendorff's α ({level})"),
    ("fleiss_kappa", "Fleiss' κ"),
    ("gwet_ac1", "Gwet's AC1"),
)
MULTI_LABEL_COEFFICIENTS = (
    ("percent_agreement", "Exact-set agreement"),
    ("krippendorff_alpha", "Krippendorff's α (MASI distance)"),
    ("krippendorff_alpha_jaccard", "Krippendorff's α (Jaccard distance)"),
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
    history = selectors.pilot_history(project, role)
    pilots = list(selectors.pilot_batches(project))
    context: dict[str, Any] = {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "sees_all": selectors.can_see_reports(role),
        "settings": settings,
        "reliable": RELIABLE_ALPHA,
        "chart": pilot_chart(history, settings.alpha_threshold),
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


def _coefficients(results: dict[str, Any], table) -> list[dict[str, Any]]:
    """The figure cards, in order; ``gate`` marks the alpha the step 9 gate reads."""
    gate = "krippendorff_alpha_scale" if "krippendorff_alpha_scale" in results else None
    cards = []
    for key, label in table:
        if key not in results:
            continue
        figure = results[key]
        cards.append(
            {
                "label": label.format(level=figure.get("level", "")),
                "figure": figure,
                "gate": key == (gate or "krippendorff_alpha"),
            }
        )
    return cards


def _with_questions(disagreement: dict[str, Any], questions: dict[int, list]) -> dict[str, Any]:
    items = [{**d, "questions": questions.get(d["item_id"], [])} for d in disagreement["items"]]
    return {**disagreement, "items": items}


def _multilabel_context(results: dict[str, Any], questions: dict[int, list]) -> dict[str, Any]:
    return {
        "multi_label": True,
        "coefficients": _coefficients(results, MULTI_LABEL_COEFFICIENTS),
        "label_mean": results["label_mean"],
        "per_label": results["per_label"],
        "disagreement": _with_questions(results["disagreement"], questions),
        "bootstrap": results["bootstrap"],
    }


def _report_context(report: AgreementReport, questions: dict[int, list]) -> dict[str, Any]:
    """Shape the stored figures for the page: coefficient rows, the κ heatmap, confusion, and
    each disagreement with the questions asked on its item."""
    results = report.results or {}
    if not results:
        return {}
    if results.get("multi_label"):
        return _multilabel_context(results, questions)
    names = [a["username"] for a in results.get("annotators", [])]
    pairwise = results["cohen_kappa"]["pairwise"]
    heatmap = [(names[i], [(v, _heat(v)) for v in row]) for i, row in enumerate(pairwise)]
    confusion = results["confusion"]
    return {
        "coefficients": _coefficients(results, COEFFICIENTS),
        "names": names,
        "heatmap": heatmap,
        "mean_kappa": results["cohen_kappa"]["mean"],
        "confusion": list(zip(confusion["labels"], confusion["pairs"], strict=True)),
        "confusion_labels": confusion["labels"],
        "per_label": results["per_label"],
        "skew": results["prevalence_skew"],
        "disagreement": _with_questions(results["disagreement"], questions),
        "bootstrap": results["bootstrap"],
    }


@login_required
@require_GET
def report_page(request: HttpRequest, project_id: int, report_id: int) -> HttpResponse:
    """One report. While it is being computed, the body polls itself (htmx) until done."""
    project, role = project_for_member(request.user, project_id)
    report = selectors.report_for_member(project, role, report_id)
    listed = [d["item_id"] for d in (report.results or {}).get("disagreement", {}).get("items", [])]
    questions = selectors.questions_on_items(project, request.user, role, listed)
    context = {
        "project": project,
        "report": report,
        "is_manager": role == Membership.Role.MANAGER,
        "settings": selectors.quality_settings_for(project),
        "reliable": RELIABLE_ALPHA,
        "working": report.status
        in (AgreementReport.Status.PENDING, AgreementReport.Status.RUNNING),
        **_report_context(report, questions),
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
