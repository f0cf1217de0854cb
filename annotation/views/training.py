"""Step 7 pages: training. One URL, two faces.

Annotators read the guideline, start an attempt and answer the training items one by one with
the keyboard (the workbench's keys); each answer is followed by whether it was right, the
explanation and the guideline section behind it. The answer form posts with htmx and swaps
``#trainer``; without JavaScript it posts, then redirects to ``?answered=<id>``.

Managers choose training items (search, ids or a random sample), set their gold answers and
the pass rule, and follow each annotator's attempts. Reviewers see the setup read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from annotation import markdown
from annotation.selectors import training as selectors
from annotation.selectors import training_setup as setup_selectors
from annotation.services import training as services
from annotation.services.workbench import annotator_mark_joined
from dmops.models import Membership
from dmops.selectors import project_for_member
from dmops.steps import evaluate_checks

PAGE = "annotation/training/training.html"


class RuleForm(forms.Form):
    min_correct = forms.IntegerField(min_value=1, label="Correct answers needed")
    max_attempts = forms.IntegerField(
        min_value=1, required=False, label="Attempts allowed", help_text="Empty: unlimited."
    )


class TrainingItemForm(forms.Form):
    item_id = forms.IntegerField(min_value=1, label="Item id")
    proposed_label = forms.ChoiceField(
        required=False,
        label="Proposed label",
        help_text="Optional: ask a yes/no question about this label instead.",
    )
    answer = forms.CharField(
        max_length=2000,
        label="Gold answer",
        help_text="yes / no / unsure for yes/no items; a label key; several keys separated by "
        "commas for multi-label (- for none).",
    )
    explanation = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    guideline_section = forms.ChoiceField(required=False, label="Guideline section")

    def __init__(self, *args, label_keys=(), headings=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["proposed_label"].choices = [("", "—"), *((k, k) for k in label_keys)]
        self.fields["guideline_section"].choices = [("", "—"), *((h, h) for h in headings)]


class CandidateForm(forms.Form):
    q = forms.CharField(required=False, label="Text contains")
    ids = forms.CharField(required=False, label="Item ids", help_text="Separated by commas.")
    sample = forms.IntegerField(required=False, min_value=1, max_value=20, label="Sample N")


def _require_manager(role: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied("Only a project manager can set up training.")


def _gold_from_form(text: str, schema, proposed_label: str):
    """A multi-label gold answer is typed as comma-separated keys; "-" or nothing is none."""
    if schema is not None and schema.task_type == "multi" and not proposed_label:
        return [k.strip() for k in text.split(",") if k.strip() and k.strip() != "-"]
    return text.strip()


def _answer_from_post(request: HttpRequest, question: selectors.TrainingQuestion | None):
    if question is not None and question.kind == "multi":
        return request.POST.getlist("answer")
    return request.POST.get("answer", "")


def _form_errors(form: forms.Form) -> list[str]:
    return [f"{name}: {' '.join(errs)}" for name, errs in form.errors.items()]


# --- annotators ----------------------------------------------------------------------------


def _trainee_context(request, project, *, feedback=None, errors=()) -> dict:
    guideline = selectors.current_guideline(project)
    return {
        "project": project,
        "is_trainee": True,
        "state": selectors.trainee_state(project, request.user),
        "feedback": feedback,
        "errors": list(errors),
        "guideline": guideline,
        # The side panel is outside the swapped fragment: render it for full pages only.
        "guideline_html": markdown.render(guideline.body).html
        if guideline and not request.htmx
        else "",
    }


def _trainee_response(request, project, *, status: int = 200, **context) -> HttpResponse:
    context = _trainee_context(request, project, **context)
    if request.htmx:
        # htmx does not swap 4xx answers; an error is shown in the fragment instead.
        return render(request, PAGE + "#trainer", context)
    return render(request, PAGE, context, status=status)


@login_required
@require_GET
def training_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """Annotators: their training (``?answered=<id>`` shows the feedback on that answer).
    Managers and reviewers: the setup and every annotator's progress."""
    project, role = project_for_member(request.user, project_id)
    if role == Membership.Role.ANNOTATOR:
        annotator_mark_joined(project=project, user=request.user)
        feedback = None
        answered = request.GET.get("answered", "")
        if answered.isdigit():
            answer = selectors.answer_for_annotator(project, request.user, int(answered))
            feedback = selectors.training_feedback(answer)
        return _trainee_response(request, project, feedback=feedback)
    return _setup_page(request, project, role)


@login_required
@require_POST
def training_start(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for_member(request.user, project_id)
    try:
        services.training_attempt_start(project=project, annotator=request.user)
    except ValidationError as exc:
        return _trainee_response(request, project, status=400, errors=exc.messages)
    if request.htmx:
        return _trainee_response(request, project)
    return redirect("training", project_id=project.pk)


@login_required
@require_POST
def training_answer(request: HttpRequest, project_id: int) -> HttpResponse:
    """Record the answer to one training item of the caller's current attempt."""
    project, role = project_for_member(request.user, project_id)
    if role != Membership.Role.ANNOTATOR:
        raise PermissionDenied("Training is taken by the project's annotators.")
    attempt_id, item_id = request.POST.get("attempt", ""), request.POST.get("training_item", "")
    if not (attempt_id.isdigit() and item_id.isdigit()):
        return _trainee_response(request, project, status=400, errors=["Answer an item."])
    attempt = selectors.attempt_for_annotator(project, request.user, int(attempt_id))
    training_item = selectors.training_item_get(project, int(item_id))
    question = selectors.training_question(selectors.final_schema(project), training_item)
    try:
        feedback = services.training_answer(
            attempt=attempt,
            by=request.user,
            training_item=training_item,
            answer=_answer_from_post(request, question),
        )
    except ValidationError as exc:
        return _trainee_response(request, project, status=400, errors=exc.messages)
    if request.htmx:
        return _trainee_response(request, project, feedback=feedback)
    url = reverse("training", args=[project.pk])
    return redirect(f"{url}?answered={feedback.answer.pk}")


# --- managers ------------------------------------------------------------------------------


def _candidates(project, form: CandidateForm) -> list:
    if not form.is_valid():
        return []
    data = form.cleaned_data
    if data.get("sample"):
        return setup_selectors.candidates_sample(project, data["sample"])
    ids = [int(p) for p in (data.get("ids") or "").replace(" ", ",").split(",") if p.isdigit()]
    if ids:
        return setup_selectors.candidates_by_id(project, ids)
    return setup_selectors.candidates_search(project, data.get("q") or "")


def _item_form(setup, *, data=None, initial=None) -> TrainingItemForm:
    return TrainingItemForm(
        data,
        initial=initial,
        label_keys=setup.label_keys,
        headings=setup.headings,
    )


def _item_initial(request, setup) -> dict:
    edit = request.GET.get("edit", "")
    for training_item in setup.items:
        if str(training_item.pk) == edit:
            gold = training_item.answer
            return {
                "item_id": training_item.item_id,
                "proposed_label": training_item.proposed_label,
                "answer": (", ".join(gold) or "-") if isinstance(gold, list) else gold,
                "explanation": training_item.explanation,
                "guideline_section": training_item.guideline_section,
            }
    item = request.GET.get("item", "")
    return {"item_id": int(item)} if item.isdigit() else {}


def _setup_page(request, project, role, *, status=200, errors=(), item_form=None, rule_form=None):
    setup = setup_selectors.training_setup(project)
    rule = setup.rule
    candidate_form = CandidateForm(request.GET)
    context = {
        "project": project,
        "is_manager": role == Membership.Role.MANAGER,
        "setup": setup,
        "checks": evaluate_checks(project, 7),
        "errors": list(errors),
        "rule_form": rule_form
        or RuleForm(
            initial={"min_correct": rule.min_correct, "max_attempts": rule.max_attempts}
            if rule
            else {"min_correct": len(setup.items) or None}
        ),
        "item_form": item_form or _item_form(setup, initial=_item_initial(request, setup)),
        "candidate_form": candidate_form,
        "candidates": _candidates(project, candidate_form) if request.GET else [],
        "label_keys": setup.label_keys,
    }
    return render(request, PAGE, context, status=status)


@login_required
@require_POST
def training_item_save(request: HttpRequest, project_id: int) -> HttpResponse:
    """Add an item as a training item, or update its gold answer if it already is one."""
    project, role = project_for_member(request.user, project_id)
    _require_manager(role)
    setup = setup_selectors.training_setup(project)
    form = _item_form(setup, data=request.POST)
    if not form.is_valid():
        return _setup_page(
            request, project, role, status=400, errors=_form_errors(form), item_form=form
        )
    data = form.cleaned_data
    try:
        training_item = services.training_item_add(
            project=project,
            by=request.user,
            item_id=data["item_id"],
            answer=_gold_from_form(data["answer"], setup.schema, data["proposed_label"]),
            proposed_label=data["proposed_label"],
            explanation=data["explanation"],
            guideline_section=data["guideline_section"],
        )
    except ValidationError as exc:
        return _setup_page(request, project, role, status=400, errors=exc.messages, item_form=form)
    messages.success(request, f"Item {training_item.item_id} is a training item.")
    return redirect("training", project_id=project.pk)


@login_required
@require_POST
def training_item_delete(request: HttpRequest, project_id: int, training_item_id: int):
    project, role = project_for_member(request.user, project_id)
    _require_manager(role)
    training_item = selectors.training_item_get(project, training_item_id)
    try:
        services.training_item_remove(project=project, by=request.user, training_item=training_item)
    except ValidationError as exc:
        return _setup_page(request, project, role, status=400, errors=exc.messages)
    messages.success(request, f"Item {training_item.item_id} is no longer a training item.")
    return redirect("training", project_id=project.pk)


@login_required
@require_POST
def training_rule(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_member(request.user, project_id)
    _require_manager(role)
    form = RuleForm(request.POST)
    if not form.is_valid():
        return _setup_page(
            request, project, role, status=400, errors=_form_errors(form), rule_form=form
        )
    try:
        rule = services.qualification_rule_set(
            project=project,
            by=request.user,
            min_correct=form.cleaned_data["min_correct"],
            max_attempts=form.cleaned_data["max_attempts"],
        )
    except ValidationError as exc:
        return _setup_page(request, project, role, status=400, errors=exc.messages, rule_form=form)
    messages.success(request, f"Annotators now qualify with {rule.min_correct} correct answers.")
    return redirect("training", project_id=project.pk)


urlpatterns = [
    path("projects/<int:project_id>/training/", training_page, name="training"),
    path("projects/<int:project_id>/training/start/", training_start, name="training_start"),
    path("projects/<int:project_id>/training/answer/", training_answer, name="training_answer"),
    path("projects/<int:project_id>/training/items/", training_item_save, name="training_item"),
    path(
        "projects/<int:project_id>/training/items/<int:training_item_id>/remove/",
        training_item_delete,
        name="training_item_remove",
    ),
    path("projects/<int:project_id>/training/rule/", training_rule, name="training_rule"),
]
