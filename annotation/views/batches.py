"""Batch management pages: every batch with its progress; managers create batches, open and
close them and change their priority.

Every member sees the list (counts only, never anyone's answers); only managers change it.
Pilots sampled for the agreement report are started from the Agreement page
(annotation.services.pilot); this page can still make a pilot batch by hand.
"""

from __future__ import annotations

import random
import re

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import Batch, Item
from annotation.selectors import batches as selectors
from annotation.services import labelling as services
from dmops.errors import DomainError
from dmops.models import Membership
from dmops.selectors import project_for_member

OVERLAP_EVERYONE = "everyone"
OVERLAP_FIXED = "fixed"
ITEMS_UNBATCHED = "unbatched"
ITEMS_SAMPLE = "sample"
ITEMS_IDS = "ids"


class BatchCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Batch.Kind.choices, initial=Batch.Kind.MAIN)
    overlap_mode = forms.ChoiceField(
        label="Judgements per item",
        choices=[
            (OVERLAP_FIXED, "A fixed number"),
            (OVERLAP_EVERYONE, "Every annotator who may work now (for pilots)"),
        ],
        initial=OVERLAP_FIXED,
        widget=forms.RadioSelect,
    )
    overlap = forms.IntegerField(min_value=1, max_value=100, initial=1, required=False)
    priority = forms.IntegerField(initial=0, label="Priority (higher first)")
    skip_policy = forms.ChoiceField(
        choices=Batch.SkipPolicy.choices, initial=Batch.SkipPolicy.REQUEUE_OTHERS
    )
    lease_minutes = forms.IntegerField(
        label="Lease (minutes)", min_value=1, max_value=24 * 60, initial=30
    )
    items_mode = forms.ChoiceField(
        label="Items",
        choices=[
            (ITEMS_UNBATCHED, "All active items not yet in a batch of this kind"),
            (ITEMS_SAMPLE, "A random sample of them"),
            (ITEMS_IDS, "These item ids"),
        ],
        initial=ITEMS_UNBATCHED,
        widget=forms.RadioSelect,
    )
    sample_size = forms.IntegerField(min_value=1, required=False, label="Sample size")
    item_ids = forms.CharField(
        required=False,
        label="Item ids",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "12, 13, 20"}),
    )
    open_now = forms.BooleanField(required=False, label="Open it now")

    def clean(self):
        data = super().clean()
        if data.get("overlap_mode") == OVERLAP_FIXED and not data.get("overlap"):
            self.add_error("overlap", "Give the number of judgements per item.")
        if data.get("items_mode") == ITEMS_SAMPLE and not data.get("sample_size"):
            self.add_error("sample_size", "Give the sample size.")
        if data.get("items_mode") == ITEMS_IDS:
            ids = [int(t) for t in re.findall(r"\d+", data.get("item_ids", ""))]
            if not ids:
                self.add_error("item_ids", "List the ids of the items to put in the batch.")
            data["item_id_list"] = ids
        return data


class PriorityForm(forms.Form):
    priority = forms.IntegerField()


def _require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}.")


def _render(request, project, role, form=None, *, status=200, errors=()):
    context = {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "batches": selectors.batch_progress(project),
        "form": form or BatchCreateForm(),
        "everyone_overlap": selectors.every_annotator_overlap(project),
        "errors": list(errors),
    }
    template = "annotation/batches/batches.html"
    if request.htmx:
        template += "#batch-list"
    return render(request, template, context, status=status)


def _chosen_items(project, data: dict):
    """The items the form asks for: a queryset (all unbatched) or a list of ids."""
    kind, mode = data["kind"], data["items_mode"]
    if mode == ITEMS_UNBATCHED:
        items = selectors.items_not_in_kind(project, kind)
        empty = not items.exists()
    elif mode == ITEMS_SAMPLE:
        items = selectors.items_sample(project, kind, data["sample_size"], random.Random())
        empty = not items
    else:
        items = list(
            Item.objects.filter(project=project, is_active=True, pk__in=data["item_id_list"])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        empty = not items
    if empty:
        raise DomainError("No active item matches: the batch would be empty.")
    return items


@login_required
@require_http_methods(["GET", "POST"])
def batches_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """GET: the project's batches with progress. POST (managers): create a batch."""
    project, role = project_for_member(request.user, project_id)
    if request.method == "GET":
        return _render(request, project, role)
    _require_manager(role, "create batches")
    form = BatchCreateForm(request.POST)
    if not form.is_valid():
        return _render(request, project, role, form, status=400)
    data = form.cleaned_data
    overlap = data["overlap"]
    try:
        if data["overlap_mode"] == OVERLAP_EVERYONE:
            overlap = selectors.every_annotator_overlap(project)
            if overlap < 1:
                raise DomainError("No annotator may work yet, so 'every annotator' means nobody.")
        items = _chosen_items(project, data)
        # Creating and opening are one decision: a batch that cannot open is not left behind.
        with transaction.atomic():
            batch = services.batch_create(
                project=project,
                by=request.user,
                name=data["name"],
                items=items,
                kind=data["kind"],
                overlap=overlap,
                priority=data["priority"],
                skip_policy=data["skip_policy"],
                lease_ttl=data["lease_minutes"] * 60,
            )
            if data["open_now"]:
                services.batch_open(batch=batch, by=request.user)
    except ValidationError as exc:
        return _render(request, project, role, form, status=400, errors=exc.messages)
    state = "open" if data["open_now"] else "closed until you open it"
    messages.success(request, f"Batch “{batch.name}” created ({state}).")
    return redirect("batches", project_id=project.pk)


def _changed(request, project, role, errors: list[str], done: str) -> HttpResponse:
    if request.htmx:
        return _render(request, project, role, errors=errors)
    for error in errors:
        messages.error(request, error)
    if not errors:
        messages.success(request, done)
    return redirect("batches", project_id=project.pk)


@login_required
@require_POST
def batch_set_open(request: HttpRequest, project_id: int, batch_id: int) -> HttpResponse:
    """``open=1`` opens the batch (its items start being served), ``open=0`` closes it."""
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "open or close batches")
    batch = selectors.batch_for_project(project, batch_id)
    opening = request.POST.get("open") == "1"
    errors: list[str] = []
    try:
        if opening:
            services.batch_open(batch=batch, by=request.user)
        else:
            services.batch_close(batch=batch, by=request.user)
    except ValidationError as exc:
        errors = exc.messages
    return _changed(
        request, project, role, errors, f"{batch.name} {'opened' if opening else 'closed'}."
    )


@login_required
@require_POST
def batch_priority(request: HttpRequest, project_id: int, batch_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "change batch priorities")
    batch = selectors.batch_for_project(project, batch_id)
    form = PriorityForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            services.batch_update(
                batch=batch, by=request.user, priority=form.cleaned_data["priority"]
            )
        except ValidationError as exc:
            errors = exc.messages
    else:
        errors = ["Give the priority as a whole number."]
    return _changed(request, project, role, errors, f"Priority of {batch.name} saved.")


urlpatterns = [
    path("projects/<int:project_id>/batches/", batches_page, name="batches"),
    path(
        "projects/<int:project_id>/batches/<int:batch_id>/state/",
        batch_set_open,
        name="batch_set_open",
    ),
    path(
        "projects/<int:project_id>/batches/<int:batch_id>/priority/",
        batch_priority,
        name="batch_priority",
    ),
]
