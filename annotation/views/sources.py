"""Step 2 pages: the project's data (sources, licences, imports), adding a source with an
upload, an import's progress and report, and the items browser."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import Source
from annotation.selectors import sources as selectors
from annotation.services import sources as services
from annotation.sources import get_parser
from dmops.models import Membership
from dmops.selectors import project_for_member

ITEMS_PER_PAGE = 50


class SourceForm(forms.Form):
    name = forms.CharField(max_length=200)
    origin_url = forms.URLField(
        label="Origin URL", max_length=1000, required=False, assume_scheme="https"
    )
    licence = forms.ChoiceField(choices=Source.Licence.choices, initial=Source.Licence.UNKNOWN)
    licence_text = forms.CharField(
        label="Licence and attribution", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    collected_on = forms.DateField(
        label="Collected on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    format = forms.ChoiceField(choices=Source.Format.choices)
    text_field = forms.CharField(
        required=False, help_text="CSV/TSV column or JSON key holding the text (default: text)."
    )
    id_field = forms.CharField(required=False, help_text="Column or key with a record id.")
    metadata_fields = forms.CharField(
        required=False, help_text="Comma-separated columns/keys to keep; blank keeps all others."
    )
    delimiter = forms.CharField(required=False, max_length=3, help_text="CSV only, e.g. ;")
    unquoted = forms.BooleanField(
        required=False, label='CSV/TSV without quoting (bare " characters in the text)'
    )
    title = forms.CharField(required=False, help_text="Wikitext: the article's title.")
    language = forms.ChoiceField(
        required=False,
        choices=[("", "English (default)"), *((c, c) for c in services.LANGUAGES)],
        help_text="Wiki formats: sentence-splitting language.",
    )
    file = forms.FileField(allow_empty_file=True)

    PROVENANCE = ("name", "origin_url", "licence", "licence_text", "collected_on", "notes")
    OPTIONS = ("text_field", "id_field", "metadata_fields", "delimiter", "unquoted", "title",
               "language")  # fmt: skip

    def provenance_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.PROVENANCE]

    def option_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.OPTIONS]

    def source_fields(self) -> dict:
        """Keyword arguments for the service: provenance plus the options the format reads."""
        data = self.cleaned_data
        fmt = data["format"]
        options = {
            key: data[key]
            for key in ("text_field", "id_field", "metadata_fields", "delimiter", "title")
            if data.get(key) and key in services.FORMAT_OPTIONS[fmt]
        }
        if data.get("language") and "language" in services.FORMAT_OPTIONS[fmt]:
            options["language"] = data["language"]
        if data.get("unquoted") and "quoting" in services.FORMAT_OPTIONS[fmt]:
            options["quoting"] = False
        return {"format": fmt, "options": options, **{k: data[k] for k in self.PROVENANCE}}


class UploadForm(forms.Form):
    file = forms.FileField(allow_empty_file=True)


class WaiverForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class ItemFilterForm(forms.Form):
    source = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    weak_label = forms.CharField(required=False, label="Weak label")
    q = forms.CharField(required=False, label="Text contains")

    def __init__(self, *args, sources=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "All sources"), *sources]


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}.")


@login_required
def data_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    context = {
        "project": project,
        "sources": selectors.source_list(project),
        "jobs": selectors.import_job_list(project)[:50],
        "is_manager": role == Membership.Role.MANAGER,
    }
    return render(request, "annotation/sources/data.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def source_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role, "add a source")
    form = SourceForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            _, job = services.source_create_with_upload(
                project=project,
                by=request.user,
                uploaded_file=form.cleaned_data["file"],
                **form.source_fields(),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Importing {job.file_name}.")
            return redirect("import_job", project_id=project.pk, job_id=job.pk)
    context = {"project": project, "form": form, "max_bytes": settings.DMOPS_MAX_IMPORT_BYTES}
    return render(request, "annotation/sources/source_form.html", context)


@login_required
@require_POST
def source_upload(request: HttpRequest, project_id: int, source_id: int) -> HttpResponse:
    source, role = _source_in_project(request, project_id, source_id)
    _require_manager(role, "upload data")
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            job = services.import_job_create(
                source=source, by=request.user, uploaded_file=form.cleaned_data["file"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect("import_job", project_id=project_id, job_id=job.pk)
    else:
        messages.error(request, "Choose a file to upload.")
    return redirect("project_data", project_id=project_id)


@login_required
@require_POST
def source_waiver(request: HttpRequest, project_id: int, source_id: int) -> HttpResponse:
    source, role = _source_in_project(request, project_id, source_id)
    _require_manager(role, "waive a licence")
    form = WaiverForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Give the reason for the waiver.")
        services.source_waive_licence(
            source=source, by=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Licence waiver recorded for {source.name}.")
    return redirect("project_data", project_id=project_id)


def _source_in_project(request: HttpRequest, project_id: int, source_id: int):
    source, role = selectors.source_for_member(request.user, source_id)
    if source.project_id != project_id:
        raise Http404("No such source in this project.")
    return source, role


@login_required
def import_job_page(request: HttpRequest, project_id: int, job_id: int) -> HttpResponse:
    """The job's progress while it runs (htmx polls the fragment), then its report."""
    job, _ = selectors.import_job_for_member(request.user, job_id)
    if job.project_id != project_id:
        raise Http404("No such import in this project.")
    template = "annotation/sources/import_job.html"
    if request.htmx:
        template += "#progress"
    seconds = None
    if job.started_at and job.finished_at:
        seconds = (job.finished_at - job.started_at).total_seconds()
    context = {
        "project": job.project,
        "job": job,
        "position": _position_name(job.source.format),
        "seconds": seconds,
    }
    return render(request, template, context)


def _position_name(fmt: str) -> str:
    """What a rejection's number counts in this format: line, element or sentence."""
    try:
        return get_parser(fmt).position
    except ValueError:
        return "line"


@login_required
def item_browser(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for_member(request.user, project_id)
    form = ItemFilterForm(request.GET, sources=selectors.source_choices(project))
    filters = form.cleaned_data if form.is_valid() else {}
    items = selectors.item_list(
        project,
        source=filters.get("source"),
        weak_label=filters.get("weak_label", ""),
        q=filters.get("q", ""),
    )
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    template = "annotation/sources/items.html"
    if request.htmx:
        template += "#items"
    return render(request, template, {"project": project, "form": form, "page": page})


urlpatterns = [
    path("projects/<int:project_id>/data/", data_page, name="project_data"),
    path("projects/<int:project_id>/data/sources/new/", source_new, name="source_create"),
    path(
        "projects/<int:project_id>/data/sources/<int:source_id>/upload/",
        source_upload,
        name="source_upload",
    ),
    path(
        "projects/<int:project_id>/data/sources/<int:source_id>/waiver/",
        source_waiver,
        name="source_waiver",
    ),
    path(
        "projects/<int:project_id>/data/imports/<int:job_id>/",
        import_job_page,
        name="import_job",
    ),
    path("projects/<int:project_id>/data/items/", item_browser, name="project_items"),
]
