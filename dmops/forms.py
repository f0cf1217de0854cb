from __future__ import annotations

from django import forms

from dmops.models import Membership, Project


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ProjectGoalForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = [
            "name",
            "description",
            "goal_business_need",
            "goal_intended_use",
            "goal_target_size",
            "goal_success_metric",
            "goal_deadline",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "goal_business_need": forms.Textarea(attrs={"rows": 3}),
            "goal_intended_use": forms.Textarea(attrs={"rows": 2}),
            "goal_success_metric": forms.Textarea(attrs={"rows": 2}),
            "goal_deadline": forms.DateInput(attrs={"type": "date"}),
        }


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices)


class StepTransitionForm(forms.Form):
    ACTIONS = ("start", "sign_off", "skip", "reopen")
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class StepAssignForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=None, required=False)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from django.contrib.auth import get_user_model

        self.fields["owner"].queryset = get_user_model().objects.filter(
            memberships__project=project
        )
