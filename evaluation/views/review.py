"""Ongoing quality and step 10 pages: the annotator roster, gold items and aggregation; the
review queue, one item's review, and the extrinsic checks.

Reviewers and managers only (annotators get a 403: every page here shows others' judgements).
Managers aggregate, mark gold and pause annotators; reviewers and managers review.
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
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.models import BatchItem, Review
from annotation.services import team as team_services
from dmops.models import Membership
from dmops.selectors import project_for_member
from dmops.steps import evaluate_checks
from evaluation.models import AggregationRun
from evaluation.selectors import agreement as agreement_selectors
from evaluation.selectors import quality as quality_selectors
from evaluation.selectors import review as selectors
from evaluation.services import quality as quality_services
from evaluation.services import review as services


class GoldForm(forms.Form):
    batch_item = forms.IntegerField(min_value=1, label="Batch item id")
    answer = forms.CharField(max_length=200, help_text="A label key, or yes / no / unsure.")


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Review.Decision.choices, widget=forms.RadioSelect)
    label = forms.CharField(required=False, max_length=200)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _member(request: HttpRequest, project_id: int):
    """The project and role of a reviewer or manager; a 403 for anyone else."""
    project, role = project_for_member(request.user, project_id)
    if role not in (Membership.Role.MANAGER, Membership.Role.REVIEWER):
        raise PermissionDenied("Only reviewers and managers see everyone's judgements.")
    return project, role


def _require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}.")


@login_required
@require_GET
def quality_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _member(request, project_id)
    context = {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "settings": agreement_selectors.quality_settings_for(project),
        "roster": quality_selectors.annotator_roster(project),
        "runs": AggregationRun.objects.filter(project=project)[:5],
        "gold": quality_selectors.gold_answers(project)[:200],
        "gold_form": GoldForm(),
        "methods": AggregationRun.Method.choices,
    }
    return render(request, "evaluation/quality.html", context)


def _done(request: HttpRequest, action, success: str, page: str, project_id: int):
    try:
        result = action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success.format(result=result))
    return redirect(page, project_id=project_id)


@login_required
@require_POST
def labels_aggregate(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _member(request, project_id)
    _require_manager(role, "aggregate labels")
    method = request.POST.get("method", AggregationRun.Method.DAWID_SKENE)
    return _done(
        request,
        lambda: quality_services.labels_aggregate_request(
            project=project, by=request.user, method=method
        ),
        "Aggregation started; the final labels update in the background.",
        "quality",
        project.pk,
    )


@login_required
@require_POST
def gold_answer_add(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _member(request, project_id)
    _require_manager(role, "mark gold items")
    form = GoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a batch item id and its answer.")
        return redirect("quality", project_id=project.pk)
    batch_item = get_object_or_404(
        BatchItem, batch__project=project, pk=form.cleaned_data["batch_item"]
    )
    return _done(
        request,
        lambda: quality_services.gold_answer_set(
            batch_item=batch_item, by=request.user, answer=form.cleaned_data["answer"]
        ),
        "Gold answer saved.",
        "quality",
        project.pk,
    )


@login_required
@require_POST
def annotator_pause(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    project, role = _member(request, project_id)
    _require_manager(role, "pause annotators")
    user = get_object_or_404(get_user_model(), pk=user_id)
    paused = request.POST.get("paused") == "1"
    return _done(
        request,
        lambda: team_services.annotator_pause(
            project=project, by=request.user, user=user, paused=paused
        ),
        f"{user.username} {'paused' if paused else 'resumed'}.",
        "quality",
        project.pk,
    )


@login_required
@require_GET
def review_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """Step 10: the queue, recent decisions, the spot-check figures and extrinsic checks."""
    project, role = _member(request, project_id)
    context = {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "settings": agreement_selectors.quality_settings_for(project),
        "queue": selectors.review_queue(project)[:200],
        "queue_size": selectors.review_queue(project).count(),
        "decided": selectors.reviews_decided(project),
        "spot": selectors.spot_check_summary(project),
        "checks": evaluate_checks(project, 10),
        "extrinsic": quality_selectors.extrinsic_checks(project),
    }
    return render(request, "evaluation/review.html", context)


@login_required
@require_POST
def review_fill(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _member(request, project_id)
    return _done(
        request,
        lambda: services.review_queue_fill(project=project, by=request.user),
        "Queued {result.disagreement} disagreements, {result.low_confidence} low-confidence "
        "items and {result.spot_check} spot checks.",
        "review",
        project.pk,
    )


def _answer_from(form: DecisionForm):
    return form.cleaned_data.get("label") or None


@login_required
@require_http_methods(["GET", "POST"])
def review_item(request: HttpRequest, project_id: int, review_id: int) -> HttpResponse:
    """One queued item with every judgement; the reviewer accepts, corrects or sends back."""
    project, role = _member(request, project_id)
    review = selectors.review_get(project, review_id)
    form = DecisionForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            services.review_decide(
                review=review,
                by=request.user,
                decision=form.cleaned_data["decision"],
                label=_answer_from(form),
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, "Decision recorded.")
            following = selectors.review_queue(project).first()
            if following is not None:
                return redirect("review_item", project_id=project.pk, review_id=following.pk)
            return redirect("review", project_id=project.pk)
    schema = agreement_selectors.current_schema(project)
    context = {
        "project": project,
        "review": review,
        "judgements": selectors.item_judgements(review.item),
        "choices": agreement_selectors.categories_for(schema) or [],
        "form": form,
        "errors": errors,
    }
    return render(request, "evaluation/review_item.html", context, status=400 if errors else 200)


urlpatterns = [
    path("projects/<int:project_id>/quality/", quality_page, name="quality"),
    path("projects/<int:project_id>/quality/aggregate/", labels_aggregate, name="labels_aggregate"),
    path("projects/<int:project_id>/quality/gold/", gold_answer_add, name="gold_answer_add"),
    path(
        "projects/<int:project_id>/quality/annotators/<int:user_id>/pause/",
        annotator_pause,
        name="quality_annotator_pause",
    ),
    path("projects/<int:project_id>/review/", review_page, name="review"),
    path("projects/<int:project_id>/review/fill/", review_fill, name="review_fill"),
    path("projects/<int:project_id>/review/<int:review_id>/", review_item, name="review_item"),
]
