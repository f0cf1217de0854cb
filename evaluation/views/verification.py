"""Step 11 pages: verification runs (start, watch, cancel), a run's report with its figures,
suspicious labels sent into verification batches, findings sign-off, comparing two runs,
ordering a batch by model uncertainty and pre-annotation from predictions.

Managers and reviewers read; only managers act. Annotators and outsiders get 403. While a run
works its status fragment polls every second with htmx.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from dmops.models import Membership
from dmops.steps import evaluate_checks
from evaluation.models import VerificationRun
from evaluation.selectors import verification as selectors
from evaluation.services import verification as services
from evaluation.services import verification_queue as queue_services
from evaluation.verification.pipeline import compare_reports


class StartForm(forms.Form):
    n_folds = forms.IntegerField(min_value=2, max_value=20, initial=5, label="Folds")
    top_k = forms.IntegerField(
        min_value=1, max_value=5000, initial=200, label="Suspicious items to list"
    )


class FindingsForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label="Findings")


def _flash_errors(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _manager(request: HttpRequest, project_id: int, action: str):
    project, role = selectors.project_for_reader(request.user, project_id)
    selectors.require_manager(role, action)
    return project


@login_required
@require_GET
def verification_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's runs, the start form, and the queue actions that use the latest model."""
    project, role = selectors.project_for_reader(request.user, project_id)
    context = {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "runs": selectors.run_list(project)[:50],
        "start_form": StartForm(),
        "batches": selectors.batch_choices(project)[:100],
        "prediction_models": selectors.prediction_models(project),
        "checks": evaluate_checks(project, 11),
        "unfolded": selectors.proposals_unfolded(project).count(),
    }
    return render(request, "evaluation/verification/index.html", context)


@login_required
@require_POST
def verification_start(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _manager(request, project_id, "start a verification run")
    form = StartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the run's settings.")
        return redirect("verification", project_id=project.pk)
    try:
        run = services.verification_run_start(
            project=project, by=request.user, config=form.cleaned_data
        )
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect("verification", project_id=project.pk)
    return redirect("verification_run", project_id=project.pk, run_id=run.pk)


def _run_context(request: HttpRequest, project, role: str, run: VerificationRun) -> dict:
    report = run.report or {}
    figures = {
        # matplotlib's SVG built by evaluation/verification/plots.py from numbers only: trusted
        # output, the one thing on this page rendered unescaped.
        name: mark_safe(svg)
        for name, svg in (run.figures or {}).items()
    }
    learn = report.get("learnability", {})
    return {
        "project": project,
        "run": run,
        "is_manager": role == Membership.Role.MANAGER,
        "report": report,
        "learn": learn,
        "baselines": learn.get("baselines", {}),
        "figures": figures,
        "verdicts": selectors.verdict_counts(run) if run.status == "done" else {},
        "sent": selectors.sent_item_ids(run) if run.status == "done" else set(),
        "findings_form": FindingsForm(initial={"note": run.findings_note}),
        "other_runs": selectors.run_list(project).filter(status="done").exclude(pk=run.pk)[:20],
    }


@login_required
@require_GET
def verification_run_page(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    """One run: status (polled while it works), then its report."""
    project, role = selectors.project_for_reader(request.user, project_id)
    run = selectors.run_get(project, run_id)
    template = "evaluation/verification/run.html"
    if request.htmx and request.GET.get("fragment") == "status":
        if run.is_finished:
            # The report appears with the whole page: tell htmx to reload it.
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        template += "#status"
    return render(request, template, _run_context(request, project, role, run))


def _run_action(request: HttpRequest, project_id: int, run_id: int, action: str):
    project = _manager(request, project_id, action)
    return project, selectors.run_get(project, run_id)


def _back(project, run) -> HttpResponse:
    return redirect("verification_run", project_id=project.pk, run_id=run.pk)


@login_required
@require_POST
def verification_cancel(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    project, run = _run_action(request, project_id, run_id, "cancel a verification run")
    try:
        services.verification_run_cancel(run=run, by=request.user)
        messages.success(request, "Cancelling: the run stops at its next step.")
    except ValidationError as exc:
        _flash_errors(request, exc)
    return _back(project, run)


@login_required
@require_POST
def verification_send(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    """Send the ticked suspicious items, or the top k when none is ticked."""
    project, run = _run_action(request, project_id, run_id, "send items for verification")
    ids = [int(i) for i in request.POST.getlist("item") if i.isdigit()]
    top_k = request.POST.get("top_k", "")
    try:
        batch = queue_services.suspicious_send(
            run=run,
            by=request.user,
            item_ids=ids or None,
            top_k=int(top_k) if top_k.isdigit() else 20,
        )
        messages.success(request, f"Batch “{batch.name}” created with the chosen items.")
    except ValidationError as exc:
        _flash_errors(request, exc)
    return _back(project, run)


@login_required
@require_POST
def verification_findings(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    project, run = _run_action(request, project_id, run_id, "sign off verification findings")
    form = FindingsForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Write what the run found and what you will do about it.")
        services.verification_findings_sign(
            run=run, by=request.user, note=form.cleaned_data["note"]
        )
        messages.success(request, "Findings signed off.")
    except ValidationError as exc:
        _flash_errors(request, exc)
    return _back(project, run)


@login_required
@require_POST
def verification_reopen(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    project, run = _run_action(request, project_id, run_id, "reopen the guideline step")
    try:
        services.verification_reopen_guideline(
            run=run, by=request.user, note=request.POST.get("note", "")
        )
        messages.success(request, "Step 5 (the guideline) is open again, with this run as why.")
    except ValidationError as exc:
        _flash_errors(request, exc)
    return _back(project, run)


@login_required
@require_POST
def verification_preannotate(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    project, run = _run_action(request, project_id, run_id, "pre-annotate")
    try:
        batch = queue_services.run_predictions_send(run=run, by=request.user)
        messages.success(request, f"Batch “{batch.name}” created from the model's predictions.")
    except ValidationError as exc:
        _flash_errors(request, exc)
    return _back(project, run)


def _index_action(request: HttpRequest, project_id: int, action: str, do) -> HttpResponse:
    project = _manager(request, project_id, action)
    try:
        message = do(project)
        messages.success(request, message)
    except ValidationError as exc:
        _flash_errors(request, exc)
    return redirect("verification", project_id=project.pk)


@login_required
@require_POST
def verification_fold(request: HttpRequest, project_id: int) -> HttpResponse:
    def do(project) -> str:
        counts = queue_services.proposals_fold(project=project, by=request.user)
        parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
        return f"Answers folded back: {parts or 'nothing new'}."

    return _index_action(request, project_id, "fold verification answers back", do)


@login_required
@require_POST
def verification_order(request: HttpRequest, project_id: int) -> HttpResponse:
    def do(project) -> str:
        batch = get_object_or_404(
            selectors.batch_choices(project), pk=request.POST.get("batch") or 0
        )
        n = queue_services.batch_order_by_uncertainty(batch=batch, by=request.user)
        return f"{n} items of “{batch.name}” now come least-certain first."

    return _index_action(request, project_id, "reorder a batch", do)


@login_required
@require_POST
def verification_predictions_send(request: HttpRequest, project_id: int) -> HttpResponse:
    def do(project) -> str:
        try:
            min_score = float(request.POST.get("min_score") or 0)
        except ValueError:
            raise ValidationError("The minimum score is a number between 0 and 1.") from None
        batch = queue_services.predictions_send(
            project=project,
            by=request.user,
            model_name=request.POST.get("model", ""),
            min_score=min_score,
        )
        return f"Batch “{batch.name}” created from the predictions."

    return _index_action(request, project_id, "send predictions for verification", do)


@login_required
@require_GET
def verification_compare(request: HttpRequest, project_id: int) -> HttpResponse:
    """Two finished runs side by side: macro-F1 and per-label F1 with deltas (b − a)."""
    project, role = selectors.project_for_reader(request.user, project_id)
    done = selectors.run_list(project).filter(status="done")
    a = get_object_or_404(done, pk=request.GET.get("a") or 0)
    b = get_object_or_404(done, pk=request.GET.get("b") or 0)
    context: dict[str, Any] = {
        "project": project,
        "a": a,
        "b": b,
        "comparison": compare_reports(
            VerificationRun.objects.get(pk=a.pk).report, VerificationRun.objects.get(pk=b.pk).report
        ),
    }
    return render(request, "evaluation/verification/compare.html", context)


P = "projects/<int:project_id>/verification/"
R = f"{P}runs/<int:run_id>/"
urlpatterns = [
    path(P, verification_page, name="verification"),
    path(f"{P}start/", verification_start, name="verification_start"),
    path(f"{P}compare/", verification_compare, name="verification_compare"),
    path(f"{P}fold/", verification_fold, name="verification_fold"),
    path(f"{P}order/", verification_order, name="verification_order"),
    path(f"{P}predictions/send/", verification_predictions_send, name="verification_predictions"),
    path(R, verification_run_page, name="verification_run"),
    path(f"{R}cancel/", verification_cancel, name="verification_cancel"),
    path(f"{R}send/", verification_send, name="verification_send"),
    path(f"{R}findings/", verification_findings, name="verification_findings"),
    path(f"{R}reopen/", verification_reopen, name="verification_reopen"),
    path(f"{R}preannotate/", verification_preannotate, name="verification_preannotate"),
]
