"""The question log pages: ask, search and filter; managers answer, promote answers into the
guideline and re-check the annotations a promotion made stale.

Every member asks and reads (annotators: their own questions and the promoted ones); only
managers answer, promote and open the re-check list. The ask endpoint also serves the
workbench, which posts its small form with htmx and swaps in a confirmation.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import markdown
from annotation.models import Item, Label, Question, SchemaVersion
from annotation.selectors import guideline as guideline_selectors
from annotation.selectors import questions as selectors
from annotation.services import questions as services
from dmops.models import Membership, Project
from dmops.selectors import project_for_member

LIST = "annotation/questions/list.html"
DETAIL = "annotation/questions/detail.html"
STALE = "annotation/questions/stale.html"
ASK_FORM = "annotation/questions/_ask_form.html"
ASK_SENT = "annotation/questions/_ask_sent.html"
PER_PAGE = 25
# htmx leaves 4xx responses unswapped by default; the forms opt in for this status only.
INVALID = 422


def _label_choices(project: Project) -> list[tuple[str, str]]:
    latest = SchemaVersion.objects.filter(project=project).order_by("-number").first()
    labels = Label.objects.filter(schema_version=latest) if latest else Label.objects.none()
    return [("", "No particular label")] + [(label.key, label.name) for label in labels]


class QuestionFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=200)
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Question.Status.choices]
    )
    label = forms.CharField(required=False, max_length=80)
    item = forms.IntegerField(required=False, min_value=1, label="Item id")
    asker = forms.CharField(required=False, max_length=150, label="Asked by")

    def __init__(self, *args, labels: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["label"].widget = forms.Select(
            choices=[("", "Any label")] + [(key, key) for key in labels]
        )


class AskForm(forms.Form):
    text = forms.CharField(
        required=False,
        strip=False,
        label="Your question",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=services.MAX_QUESTION_LENGTH,
    )
    item = forms.IntegerField(required=False, min_value=1, label="About item (id)")
    label = forms.CharField(required=False, max_length=80, label="About label")
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, project: Project, **kwargs) -> None:
        # Own ids: the questions page also holds the filter form, with the same field names.
        kwargs.setdefault("auto_id", "ask-%s")
        super().__init__(*args, **kwargs)
        self.fields["label"].widget = forms.Select(choices=_label_choices(project))


class AnswerForm(forms.Form):
    answer = forms.CharField(
        required=False,
        label="Answer",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=services.MAX_ANSWER_LENGTH,
    )


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}.")


def _list_context(request, project: Project, role: str, ask_form: AskForm | None = None):
    filter_form = QuestionFilterForm(request.GET, labels=selectors.asked_labels(project))
    filters = filter_form.cleaned_data if filter_form.is_valid() else {}
    questions = selectors.question_search(
        project,
        request.user,
        role=role,
        q=filters.get("q", ""),
        status=filters.get("status", ""),
        label=filters.get("label", ""),
        item=filters.get("item"),
        asker=filters.get("asker", ""),
    )
    return {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "filter_form": filter_form,
        "page": Paginator(questions, PER_PAGE).get_page(request.GET.get("page")),
        "open_count": selectors.open_question_count(project),
        "ask_form": ask_form
        or AskForm(project=project, initial={"next": reverse("questions", args=[project.pk])}),
    }


@login_required
@require_GET
def question_list(request: HttpRequest, project_id: int) -> HttpResponse:
    """Search and filter the log (GET parameters, so it works without JavaScript; htmx swaps
    only the results), with the form to ask a new question."""
    project, role = project_for_member(request.user, project_id)
    template = LIST + "#results" if request.htmx else LIST
    return render(request, template, _list_context(request, project, role))


def _safe_next(request: HttpRequest, project: Project, next_url: str) -> str:
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return reverse("questions", args=[project.pk])


def _ask(request: HttpRequest, project: Project, form: AskForm) -> Question | None:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    item = None
    if data["item"]:
        item = Item.objects.filter(pk=data["item"], project=project).first()
        if item is None:
            form.add_error("item", "That item is not part of this project.")
            return None
    try:
        return services.question_ask(
            project=project, by=request.user, text=data["text"], item=item, label=data["label"]
        )
    except ValidationError as exc:
        _add_errors(form, exc)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def question_ask(request: HttpRequest, project_id: int) -> HttpResponse:
    """POST asks (fields text, item, label, next). htmx gets a confirmation fragment to swap
    into the panel it came from, or the form again with its errors; a plain form post is
    redirected to ``next`` when that is a local URL. GET gives the form, prefilled from the
    query string: the fragment for htmx, the questions page otherwise."""
    project, role = project_for_member(request.user, project_id)
    if request.method == "GET":
        form = AskForm(
            project=project,
            initial={k: request.GET.get(k, "") for k in ("item", "label", "next", "text")},
        )
        if request.htmx:
            return render(request, ASK_FORM, {"project": project, "form": form})
        return render(request, LIST, _list_context(request, project, role, form))
    form = AskForm(request.POST, project=project)
    question = _ask(request, project, form)
    if question is None:
        if request.htmx:
            return render(request, ASK_FORM, {"project": project, "form": form}, status=INVALID)
        return render(request, LIST, _list_context(request, project, role, form), status=400)
    if request.htmx:
        return render(request, ASK_SENT, {"project": project, "question": question})
    messages.success(request, "Question sent — a manager will answer it.")
    response = HttpResponseRedirect(_safe_next(request, project, form.cleaned_data["next"]))
    response.status_code = 303  # See Other: the browser follows with a GET
    return response


def _section_choices(project: Project, question: Question) -> tuple[list[str], str]:
    """Headings of the current guideline, and the one to preselect: the heading named after
    the question's label if there is one ("" means the Clarifications section)."""
    current = guideline_selectors.current_guideline(project)
    headings = services.guideline_headings(current.body) if current else []
    default = ""
    if question.label:
        names = {question.label.casefold()}
        latest = SchemaVersion.objects.filter(project=project).order_by("-number").first()
        label = latest and latest.labels.filter(key=question.label).first()
        if label:
            names.add(label.name.casefold())
        default = next((h for h in headings if h.casefold() in names), "")
    return headings, default


def _detail(request, question, project, role, *, form=None, errors=(), status=200):
    is_manager = role == Membership.Role.MANAGER
    headings, default_section = _section_choices(project, question) if is_manager else ([], "")
    context = {
        "project": project,
        "question": question,
        "answer_html": markdown.render_markdown(question.answer) if question.answer else "",
        "is_manager": is_manager,
        "form": form or AnswerForm(initial={"answer": question.answer}),
        "headings": headings,
        "default_section": default_section,
        "errors": list(errors),
    }
    template = DETAIL + "#question" if request.htmx else DETAIL
    return render(request, template, context, status=status)


@login_required
@require_GET
def question_detail(request: HttpRequest, project_id: int, pk: int) -> HttpResponse:
    """One question with its answer; the asker opening it counts as having seen the answer."""
    question, project, role = selectors.question_for_member(request.user, project_id, pk)
    if question.asked_by_id == request.user.pk and question.answer_seen_at is None:
        services.question_mark_seen(questions=question, by=request.user)
    return _detail(request, question, project, role)


@login_required
@require_POST
def question_answer(request: HttpRequest, project_id: int, pk: int) -> HttpResponse:
    question, project, role = selectors.question_for_member(request.user, project_id, pk)
    _require_manager(role, "answer questions")
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.question_answer(
                question=question, by=request.user, answer=form.cleaned_data["answer"]
            )
        except ValidationError as exc:
            _add_errors(form, exc)
    if form.errors:
        status = INVALID if request.htmx else 400
        return _detail(request, question, project, role, form=form, status=status)
    if request.htmx:
        question, project, role = selectors.question_for_member(request.user, project_id, pk)
        return _detail(request, question, project, role)
    messages.success(request, "Answer saved.")
    return redirect("question_detail", project_id=project.pk, pk=pk)


@login_required
@require_POST
def question_promote(request: HttpRequest, project_id: int, pk: int) -> HttpResponse:
    """Publish a new guideline version with this Q&A under the chosen section."""
    question, project, role = selectors.question_for_member(request.user, project_id, pk)
    _require_manager(role, "promote answers into the guideline")
    try:
        question = services.question_promote(
            question=question, by=request.user, section=request.POST.get("section", "")
        )
    except ValidationError as exc:
        status = INVALID if request.htmx else 400
        return _detail(request, question, project, role, errors=exc.messages, status=status)
    version = question.promoted_to
    if request.htmx:
        question, project, role = selectors.question_for_member(request.user, project_id, pk)
        return _detail(request, question, project, role)
    messages.success(request, f"Guideline v{version.number} published with this answer.")
    return redirect("question_detail", project_id=project.pk, pk=pk)


@login_required
@require_GET
def question_stale(request: HttpRequest, project_id: int, pk: int) -> HttpResponse:
    """Annotations made under an older guideline on the labels this promotion clarified."""
    question, project, role = selectors.question_for_member(request.user, project_id, pk)
    _require_manager(role, "see the annotations to re-check")
    annotations = selectors.stale_annotations(project, question)
    context = {
        "project": project,
        "question": question,
        "page": Paginator(annotations, PER_PAGE).get_page(request.GET.get("page")),
    }
    template = STALE + "#stale" if request.htmx else STALE
    return render(request, template, context)


urlpatterns = [
    path("projects/<int:project_id>/questions/", question_list, name="questions"),
    path("projects/<int:project_id>/questions/ask/", question_ask, name="question_ask"),
    path("projects/<int:project_id>/questions/<int:pk>/", question_detail, name="question_detail"),
    path(
        "projects/<int:project_id>/questions/<int:pk>/answer/",
        question_answer,
        name="question_answer",
    ),
    path(
        "projects/<int:project_id>/questions/<int:pk>/promote/",
        question_promote,
        name="question_promote",
    ),
    path(
        "projects/<int:project_id>/questions/<int:pk>/stale/",
        question_stale,
        name="question_stale",
    ),
]
