"""Step 4 pages: schema versions, the draft editor with its labels table, and the presets.

Every member reads; only managers write (a write by anyone else is a 403 with the reason).
Label rows are added, edited and deleted with htmx, which swaps the ``#labels`` fragment.
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

from annotation import wikisqe
from annotation.models import SchemaVersion
from annotation.selectors import schema as selectors
from annotation.services import schema as services
from annotation.services import schema_presets as presets
from dmops.models import Membership
from dmops.selectors import project_for_member
from dmops.steps import evaluate_checks

TaskType = SchemaVersion.TaskType
PAGE = "annotation/schema/schema.html"
EDIT_ID = "edit-label-%s"


class NewVersionForm(forms.Form):
    task_type = forms.ChoiceField(choices=TaskType.choices, label="Task type")


class VersionSettingsForm(forms.Form):
    task_type = forms.ChoiceField(choices=TaskType.choices, label="Task type")
    question = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Binary verification: the yes/no question, e.g. “Does this sentence need a "
        "citation?”. Leave empty when every label asks its own.",
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    label_scale = forms.ChoiceField(
        required=False,
        choices=SchemaVersion.LabelScale.choices,
        initial=SchemaVersion.LabelScale.NOMINAL,
        label="Label scale",
        help_text="Single label only: ordered labels (e.g. a 1–5 rating) get ordinal or "
        "interval agreement; ordinal uses the label order, interval their values.",
    )


class LabelForm(forms.Form):
    key = forms.CharField(max_length=200, help_text="Slug: lower-case letters, digits, - or _.")
    name = forms.CharField(max_length=400, label="Display name")
    category = forms.CharField(required=False, max_length=200)
    hotkey = forms.CharField(
        required=False, max_length=10, strip=False, widget=forms.TextInput(attrs={"size": 3})
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    question = forms.CharField(required=False, max_length=1000, label="Question (binary)")
    positive_examples = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One per line."
    )
    negative_examples = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One per line."
    )
    value = forms.FloatField(
        required=False, help_text="Interval scale only: the label's number (e.g. its stars)."
    )

    def __init__(self, *args, **kwargs) -> None:
        # The add form and an edited row are on the page together: keep their ids apart.
        kwargs.setdefault("auto_id", "add-label-%s")
        super().__init__(*args, **kwargs)

    @classmethod
    def for_label(cls, label) -> LabelForm:
        initial = {name: getattr(label, name) for name in services.LABEL_FIELDS}
        initial["positive_examples"] = "\n".join(label.positive_examples)
        initial["negative_examples"] = "\n".join(label.negative_examples)
        return cls(initial=initial, auto_id=EDIT_ID)


class WikisqePresetForm(forms.Form):
    top_n = forms.IntegerField(
        required=False,
        min_value=1,
        initial=20,
        label="Top N by frequency",
        help_text="Empty: every label of the chosen categories.",
    )
    categories = forms.MultipleChoiceField(
        required=False,
        choices=[(c, c) for c in wikisqe.CATEGORIES],
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: all five.",
    )
    binary = forms.BooleanField(
        required=False, initial=True, label="Binary verification: one yes/no question per label"
    )
    names = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Or exactly these labels",
        help_text="WikiSQE label names, one per line; clear top N and categories to use it.",
    )


def _form_errors(form: forms.Form) -> list[str]:
    return [
        f"{name}: {' '.join(errs)}" if name != "__all__" else " ".join(errs)
        for name, errs in form.errors.items()
    ]


def _require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}; members can read it.")


def _context(project, role, version: SchemaVersion | None, **extra) -> dict:
    is_manager = role == Membership.Role.MANAGER
    frozen = version is not None and services.schema_version_is_frozen(version)
    labels = list(version.labels.all()) if version else []
    minimum = services.MIN_LABELS[TaskType(version.task_type)] if version else 0
    context = {
        "project": project,
        "role": role,
        "is_manager": is_manager,
        "versions": selectors.schema_versions(project),
        "version": version,
        "frozen": frozen,
        "can_edit": is_manager and version is not None and not frozen,
        "labels": labels,
        "groups": selectors.labels_by_category(labels),
        "minimum": minimum,
        "too_few": version is not None and len(labels) < minimum,
        "reserved": " ".join(sorted(services.reserved_hotkeys(version.task_type)))
        if version is not None
        else "",
        "checks": evaluate_checks(project, 4),
        "new_form": NewVersionForm(auto_id="new-%s"),
        "preset_form": WikisqePresetForm(),
        "label_form": LabelForm(),
        "errors": [],
        "label_errors": [],
    }
    if version is not None:
        context["settings_form"] = VersionSettingsForm(
            initial={
                "task_type": version.task_type,
                "question": version.question,
                "note": version.note,
                "label_scale": version.label_scale,
            }
        )
    context.update(extra)
    return context


def _page(request, project, role, version, *, status: int = 200, **extra) -> HttpResponse:
    return render(request, PAGE, _context(project, role, version, **extra), status=status)


@login_required
@require_GET
def schema_page(request: HttpRequest, project_id: int, number: int | None = None) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    version = selectors.schema_version(project, number)
    template = (
        PAGE + "#labels" if request.htmx and request.GET.get("fragment") == "labels" else PAGE
    )
    return render(request, template, _context(project, role, version))


@login_required
@require_POST
def schema_create(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "create a schema version")
    form = NewVersionForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        version = services.schema_version_create(
            project=project, by=request.user, task_type=form.cleaned_data["task_type"]
        )
    except ValidationError as exc:
        latest = selectors.schema_version(project)
        return _page(request, project, role, latest, status=400, errors=exc.messages)
    messages.success(request, f"Schema v{version.number} created as a draft.")
    return redirect("schema_version", project_id=project.pk, number=version.number)


@login_required
@require_POST
def schema_wikisqe(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "apply a schema preset")
    form = WikisqePresetForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        data = form.cleaned_data
        version = presets.schema_apply_wikisqe(
            project=project,
            by=request.user,
            top_n=data["top_n"],
            categories=data["categories"],
            names=[n.strip() for n in data["names"].splitlines() if n.strip()],
            binary=data["binary"],
        )
    except ValidationError as exc:
        latest = selectors.schema_version(project)
        context = {"errors": exc.messages, "preset_form": form}
        return _page(request, project, role, latest, status=400, **context)
    messages.success(
        request, f"Schema v{version.number} created from WikiSQE: {version.labels.count()} labels."
    )
    return redirect("schema_version", project_id=project.pk, number=version.number)


@login_required
@require_POST
def schema_settings(request: HttpRequest, project_id: int, number: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "edit the schema")
    version = selectors.schema_version(project, number)
    form = VersionSettingsForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        fields = dict(form.cleaned_data)
        if not fields["label_scale"]:
            del fields["label_scale"]  # a form without the field keeps the scale
        services.schema_version_update(version=version, by=request.user, **fields)
    except ValidationError as exc:
        context = {"errors": exc.messages, "settings_form": form}
        return _page(request, project, role, version, status=400, **context)
    messages.success(request, f"Schema v{number} saved.")
    return redirect("schema_version", project_id=project.pk, number=number)


@login_required
@require_POST
def schema_finalise(request: HttpRequest, project_id: int, number: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "mark a schema final")
    version = selectors.schema_version(project, number)
    try:
        services.schema_version_finalise(version=version, by=request.user)
    except ValidationError as exc:
        return _page(request, project, role, version, status=400, errors=exc.messages)
    messages.success(request, f"Schema v{number} is final and frozen.")
    return redirect("schema_version", project_id=project.pk, number=number)


@login_required
@require_POST
def schema_new_version(request: HttpRequest, project_id: int, number: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "create a schema version")
    version = selectors.schema_version(project, number)
    copy = services.schema_version_new_from(
        version=version, by=request.user, note=request.POST.get("note", "")
    )
    messages.success(request, f"Schema v{copy.number} is a new draft copied from v{number}.")
    return redirect("schema_version", project_id=project.pk, number=copy.number)


def _labels_response(request, project, role, number: int, errors: list[str], **extra):
    """htmx gets the labels fragment back (with errors in it); a plain form post is redirected
    on success and shown the page with the errors otherwise."""
    version = selectors.schema_version(project, number)
    if request.htmx:
        context = _context(project, role, version, label_errors=errors, **extra)
        return render(request, PAGE + "#labels", context)
    if errors:
        return _page(request, project, role, version, status=400, label_errors=errors, **extra)
    return redirect("schema_version", project_id=project.pk, number=number)


def _label_fields(form: LabelForm) -> dict:
    data = dict(form.cleaned_data)
    for name in ("positive_examples", "negative_examples"):
        data[name] = data[name].splitlines()
    return data


@login_required
@require_POST
def schema_label_add(request: HttpRequest, project_id: int, number: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "edit the schema")
    version = selectors.schema_version(project, number)
    form = LabelForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        services.label_add(version=version, by=request.user, **_label_fields(form))
    except ValidationError as exc:
        return _labels_response(request, project, role, number, exc.messages, label_form=form)
    return _labels_response(request, project, role, number, [])


@login_required
@require_http_methods(["GET", "POST"])
def schema_label(request: HttpRequest, project_id: int, number: int, label_id: int):
    """GET: the labels table with this row as a form. POST: save the row."""
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "edit the schema")
    version = selectors.schema_version(project, number)
    label = selectors.label_in_version(version, label_id)
    if request.method == "GET":
        edit = {"editing": label.pk, "edit_form": LabelForm.for_label(label)}
        template = PAGE + "#labels" if request.htmx else PAGE
        return render(request, template, _context(project, role, version, **edit))
    form = LabelForm(request.POST, auto_id=EDIT_ID)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        services.label_update(label=label, by=request.user, **_label_fields(form))
    except ValidationError as exc:
        edit = {"editing": label.pk, "edit_form": form}
        return _labels_response(request, project, role, number, exc.messages, **edit)
    return _labels_response(request, project, role, number, [])


@login_required
@require_POST
def schema_label_delete(request: HttpRequest, project_id: int, number: int, label_id: int):
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "edit the schema")
    version = selectors.schema_version(project, number)
    label = selectors.label_in_version(version, label_id)
    try:
        services.label_delete(label=label, by=request.user)
    except ValidationError as exc:
        return _labels_response(request, project, role, number, exc.messages)
    return _labels_response(request, project, role, number, [])


_V = "projects/<int:project_id>/schema/v<int:number>/"
urlpatterns = [
    path("projects/<int:project_id>/schema/", schema_page, name="schema"),
    path("projects/<int:project_id>/schema/new/", schema_create, name="schema_create"),
    path("projects/<int:project_id>/schema/wikisqe/", schema_wikisqe, name="schema_wikisqe"),
    path(_V, schema_page, name="schema_version"),
    path(_V + "settings/", schema_settings, name="schema_settings"),
    path(_V + "finalise/", schema_finalise, name="schema_finalise"),
    path(_V + "new-version/", schema_new_version, name="schema_new_version"),
    path(_V + "labels/", schema_label_add, name="schema_label_add"),
    path(_V + "labels/<int:label_id>/", schema_label, name="schema_label"),
    path(_V + "labels/<int:label_id>/delete/", schema_label_delete, name="schema_label_delete"),
]
