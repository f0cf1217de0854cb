"""The project and its lifecycle: who is on it, and where each of the 12 DMOps steps stands."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from dmops.steps import STEP_KEYS, step_name


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Step 1 — Establish the Project Goal.
    goal_business_need = models.TextField(
        "business need", blank=True, help_text="Why this dataset is needed and for whom."
    )
    goal_intended_use = models.TextField(
        "intended model / use", blank=True, help_text="The model or use the data will serve."
    )
    goal_target_size = models.PositiveIntegerField(
        "target size", null=True, blank=True, help_text="Number of labelled items aimed for."
    )
    goal_success_metric = models.TextField(
        "success metric", blank=True, help_text="How we will know the dataset is good enough."
    )
    goal_deadline = models.DateField("deadline", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project_board", args=[self.pk])

    def role_of(self, user) -> str | None:
        if not user.is_authenticated:
            return None
        # values_list without ordering: one indexed lookup, no join on the user for ordering.
        return self.memberships.filter(user=user).order_by().values_list("role", flat=True).first()

    def is_manager(self, user) -> bool:
        return self.role_of(user) == Membership.Role.MANAGER


class Membership(models.Model):
    class Role(models.TextChoices):
        MANAGER = "manager", "Manager"
        REVIEWER = "reviewer", "Reviewer"
        ANNOTATOR = "annotator", "Annotator"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=["manager", "reviewer", "annotator"]),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) on {self.project}"


class StepState(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="steps")
    key = models.PositiveSmallIntegerField(choices=[(k, step_name(k)) for k in STEP_KEYS])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_steps",
    )
    due_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True, help_text="Artifacts, links and notes for this step.")
    started_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["project", "key"]
        constraints = [
            models.UniqueConstraint(fields=["project", "key"], name="stepstate_unique_key"),
            models.CheckConstraint(
                condition=models.Q(key__gte=1, key__lte=12), name="stepstate_key_range"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="skipped") | ~models.Q(skip_reason=""),
                name="stepstate_skip_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project}: {self.key}. {self.name}"

    @property
    def name(self) -> str:
        return step_name(self.key)

    @property
    def is_closed(self) -> bool:
        """Done or skipped: later steps may be signed off past it."""
        return self.status in (self.Status.DONE, self.Status.SKIPPED)


class StepEvent(models.Model):
    class Kind(models.TextChoices):
        STARTED = "started", "Started"
        SIGNED_OFF = "signed_off", "Signed off"
        REOPENED = "reopened", "Reopened"
        SKIPPED = "skipped", "Skipped"
        ASSIGNED = "assigned", "Assigned"
        NOTES = "notes", "Notes updated"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    step = models.ForeignKey(StepState, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    note = models.TextField(blank=True)
    # Later steps a reopen sent back to in progress, kept on the one event of the transition.
    affected_steps = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["project", "-created_at"], name="stepevent_project_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} step {self.step.key} by {self.actor}"
