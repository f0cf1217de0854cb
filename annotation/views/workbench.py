"""Step 8: the annotator workbench, a keyboard-driven page that serves one leased item at a time.

Every answer, skip and undo is a plain form POST. With htmx the response is the next item's
fragment (plus an out-of-band status line read out by screen readers); without JavaScript it is
a 303 back to the page, which leases the next item. Any member may label; the queue decides
what they get.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotation import queue
from annotation.models import AnnotatorState, SchemaVersion
from annotation.selectors import workbench as selectors
from annotation.services import labelling as services
from annotation.services import questions as question_services
from annotation.services import workbench as workbench_services
from dmops.models import Project
from dmops.selectors import project_for_member

PAGE = "annotation/workbench/workbench.html"


class LeaseForm(forms.Form):
    lease = forms.IntegerField(min_value=1)
    # Milliseconds the item was on screen, measured by workbench.js; blank without JavaScript.
    ms = forms.IntegerField(min_value=0, required=False)


def _see_other(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url)
    response.status_code = 303  # after a POST the browser must GET the page, not re-post
    return response


def _state(request: HttpRequest, project: Project, *, full: bool) -> dict | HttpResponse:
    """The page's context, or a redirect when the annotator must qualify first."""
    # The queue refuses paused and unqualified annotators itself; why is asked only when it
    # gives nothing, which keeps a query off the common path.
    lease = queue.next_item(project=project, annotator=request.user)
    refusal = None if lease else queue.work_refusal(project=project, annotator=request.user)
    if refusal == queue.Refusal.NOT_QUALIFIED:
        url = reverse("training", args=[project.pk])
        return HttpResponseClientRedirect(url) if request.htmx else _see_other(url)
    guideline = selectors.guideline_panel(project)
    context: dict = {"project": project, "paused": refusal == queue.Refusal.PAUSED}
    if lease is not None:
        context["wb"] = selectors.work_item(
            lease_id=lease.pk, user=request.user, guideline=guideline
        )
    elif not refusal:
        context["empty"] = selectors.empty_counts(project=project, user=request.user)
    if full:
        context["guideline"] = guideline
    return context


def _respond(
    request: HttpRequest, project: Project, *, announce: str = "", errors=()
) -> HttpResponse:
    """After a POST: the next item's fragment for htmx, a 303 back to the page otherwise."""
    if not request.htmx:
        for error in errors:
            messages.error(request, error)
        return _see_other(reverse("workbench", args=[project.pk]))
    context = _state(request, project, full=False)
    if isinstance(context, HttpResponse):
        return context
    if errors:
        announce = " ".join(errors)
    context.update(announce=announce, errors=list(errors))
    return render(request, PAGE + "#item", context)


@login_required
@require_GET
def workbench(request: HttpRequest, project_id: int) -> HttpResponse:
    """The next item for the caller (their current one again on reload)."""
    project, _ = project_for_member(request.user, project_id)
    state = workbench_services.annotator_mark_joined(project=project, user=request.user)
    context = _state(request, project, full=True)
    if isinstance(context, HttpResponse):
        return context
    context["answers"] = selectors.unseen_answers(project=project, user=request.user, state=state)
    return render(request, PAGE, context)


def _seconds_spent(lease, ms: int | None) -> float:
    """The time on the item: measured by the page, else since the lease was given; never more
    than the lease's time, which a tab left open overnight would otherwise claim."""
    ttl = lease.batch_item.batch.lease_ttl
    elapsed = (timezone.now() - lease.created_at).total_seconds() if ms is None else ms / 1000
    return min(max(elapsed, 0.0), float(ttl))


def _answer(request: HttpRequest, lease):
    schema = lease.batch_item.batch.schema_version
    is_multi = schema is not None and schema.task_type == SchemaVersion.TaskType.MULTI
    if is_multi and not lease.batch_item.proposed_label:
        return request.POST.getlist("answer")
    return request.POST.get("answer", "")


def _posted_lease(request: HttpRequest, project: Project):
    form = LeaseForm(request.POST)
    form.is_valid()  # cleaned_data keeps the fields that are valid: a bad ms only loses the time
    data = form.cleaned_data
    lease = selectors.lease_for_workbench(
        project=project, user=request.user, lease_id=data.get("lease")
    )
    return lease, data.get("ms")


@login_required
@require_POST
def workbench_answer(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for_member(request.user, project_id)
    lease, ms = _posted_lease(request, project)
    try:
        services.annotation_submit(
            lease=lease,
            by=request.user,
            answer=_answer(request, lease),
            seconds_spent=_seconds_spent(lease, ms),
        )
    except ValidationError as exc:
        return _respond(request, project, errors=exc.messages)
    return _respond(request, project, announce="Answer saved. Next item.")


@login_required
@require_POST
def workbench_skip(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for_member(request.user, project_id)
    lease, _ = _posted_lease(request, project)
    try:
        services.lease_skip(lease=lease, by=request.user)
    except ValidationError as exc:
        return _respond(request, project, errors=exc.messages)
    return _respond(request, project, announce="Skipped. Next item.")


@login_required
@require_POST
def workbench_undo(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for_member(request.user, project_id)
    try:
        workbench_services.annotation_undo_last(project=project, by=request.user)
    except ValidationError as exc:
        return _respond(request, project, errors=exc.messages)
    return _respond(request, project, announce="Your last answer was undone; answer it again.")


@login_required
@require_POST
def workbench_renew(request: HttpRequest, project_id: int) -> HttpResponse:
    """The open page keeps its lease alive (static/js/workbench.js calls this a few times per
    TTL). 204 when renewed; 409 when the lease ran out or was closed, so the page can say so."""
    project, _ = project_for_member(request.user, project_id)
    form = LeaseForm(request.POST)
    lease_id = form.cleaned_data["lease"] if form.is_valid() else None
    if lease_id is None or queue.lease_renew(lease_id=lease_id, annotator=request.user) is None:
        return HttpResponse(
            "Your hold on this item ran out, so it may go to someone else. "
            "You can still answer it while it has room, or reload for a fresh item.",
            status=409,
            content_type="text/plain",
        )
    return HttpResponse(status=204)


@login_required
@require_POST
def workbench_answers_seen(request: HttpRequest, project_id: int) -> HttpResponse:
    """The annotator dismisses the answers notice."""
    project, _ = project_for_member(request.user, project_id)
    state = AnnotatorState.objects.filter(project=project, user=request.user).first()
    shown = selectors.unseen_answers(project=project, user=request.user, state=state)
    # Only answers still news to the caller count; ids of anything else are ignored.
    posted = set(request.POST.getlist("question"))
    seen = [q.pk for q in shown if str(q.pk) in posted]
    if seen:
        question_services.answers_mark_seen(project=project, user=request.user, question_ids=seen)
    if request.htmx:
        return HttpResponse("")
    return _see_other(reverse("workbench", args=[project.pk]))


urlpatterns = [
    path("projects/<int:project_id>/work/", workbench, name="workbench"),
    path("projects/<int:project_id>/work/answer/", workbench_answer, name="workbench_answer"),
    path("projects/<int:project_id>/work/skip/", workbench_skip, name="workbench_skip"),
    path("projects/<int:project_id>/work/undo/", workbench_undo, name="workbench_undo"),
    path("projects/<int:project_id>/work/renew/", workbench_renew, name="workbench_renew"),
    path(
        "projects/<int:project_id>/work/answers-seen/",
        workbench_answers_seen,
        name="workbench_answers_seen",
    ),
]
