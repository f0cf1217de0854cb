"""Step 12 pages: the project's releases, creating one, and a release with its datasheet.

Managers and reviewers see releases and download them (the links go to the REST export,
which takes the session too); only managers create releases or export the live project.
Annotators and outsiders get 403. Creating a release only records it as building and queues
the build job (annotation/services/release_build.py); the release page polls its body as an
htmx fragment every second until the job has published or failed it.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods

from annotation import markdown
from annotation.models import Batch, Release, Source
from annotation.selectors import releases as selectors
from annotation.services import releases as services
from annotation.services.datasheet import datasheet_markdown
from dmops.models import Membership
from dmops.steps import evaluate_checks


class ReleaseForm(forms.Form):
    train = forms.FloatField(min_value=0, max_value=1, initial=0.8)
    dev = forms.FloatField(min_value=0, max_value=1, initial=0.1)
    test = forms.FloatField(min_value=0, max_value=1, initial=0.1)
    seed = forms.CharField(
        required=False, max_length=64, help_text="Blank: the last release's (stable splits)."
    )
    sources = forms.ModelMultipleChoiceField(queryset=Source.objects.none(), required=False)
    batches = forms.ModelMultipleChoiceField(queryset=Batch.objects.none(), required=False)
    include_judgements = forms.BooleanField(
        required=False, label="Include the individual judgements (anonymised annotators)"
    )
    known_limitations = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sources"].queryset = Source.objects.filter(project=project)
        self.fields["batches"].queryset = Batch.objects.filter(project=project)
        last = Release.objects.filter(project=project).order_by("-number").first()
        if last is not None and not self.is_bound:
            for split, ratio in last.split_ratios.items():
                self.fields[split].initial = ratio


def _context(project, role, form) -> dict:
    return {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "releases": selectors.release_list(project),
        "form": form,
        "checks": evaluate_checks(project, 12),
    }


@login_required
@require_http_methods(["GET", "POST"])
def release_list_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """GET: the releases, newest first. POST (managers): create the next one."""
    project, role = selectors.project_for_reader(request.user, project_id)
    if request.method == "GET":
        form = ReleaseForm(project=project) if role == Membership.Role.MANAGER else None
        return render(request, "annotation/releases/list.html", _context(project, role, form))
    selectors.require_manager(role, "create a release")
    form = ReleaseForm(request.POST, project=project)
    if form.is_valid():
        data = form.cleaned_data
        try:
            release = services.release_create(
                project=project,
                by=request.user,
                ratios={s: data[s] for s in ("train", "dev", "test")},
                seed=data["seed"] or None,
                batch_ids=[b.pk for b in data["batches"]],
                source_ids=[s.pk for s in data["sources"]],
                include_judgements=data["include_judgements"],
                known_limitations=data["known_limitations"],
                note=data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Release v{release.number} is being built.")
            return redirect("release", project_id=project.pk, number=release.number)
    return render(
        request, "annotation/releases/list.html", _context(project, role, form), status=400
    )


@login_required
@require_GET
def release_page(request: HttpRequest, project_id: int, number: int) -> HttpResponse:
    """One release: status, files with checksums and download links, the datasheet."""
    project, role = selectors.project_for_reader(request.user, project_id)
    release = selectors.release_list(project).filter(number=number).first()
    if release is None:
        raise Http404("No such release.")
    context = {
        "project": project,
        "release": release,
        "is_manager": role == Membership.Role.MANAGER,
        "files": list(release.files.all()),
        "datasheet": (
            markdown.render(datasheet_markdown(release))
            if release.status == Release.Status.PUBLISHED
            else None
        ),
    }
    template = "annotation/releases/detail.html"
    if request.htmx and request.GET.get("fragment") == "status":
        template += "#status"
    return render(request, template, context)


urlpatterns = [
    path("projects/<int:project_id>/releases/", release_list_page, name="releases"),
    path("projects/<int:project_id>/releases/v<int:number>/", release_page, name="release"),
]
