"""Steps 6–7: inviting people to a project, and the training that qualifies annotators."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotation.models.schema import GuidelineVersion
from annotation.models.sources import Item
from dmops.models import Membership, Project


class Invitation(models.Model):
    """An invitation to an e-mail address with no account yet. Whoever signs in with that
    address and opens the link (its token) becomes a member with ``role``. People who already
    have an account are added at once and show as *invited* until they first open the project.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Membership.Role.choices)
    token = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-created_at"]
        constraints = [
            # One pending invitation per address and project.
            models.UniqueConstraint(
                fields=["project", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.project}"


class QualificationRule(models.Model):
    """Step 7: how many training items an annotator must answer correctly to qualify. While a
    project has a rule, annotators who have not qualified are given no items by the queue."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="qualification_rule"
    )
    min_correct = models.PositiveSmallIntegerField(
        help_text="Correct answers needed, out of all training items."
    )
    max_attempts = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty: unlimited retries."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_correct__gte=1), name="qualification_min_correct"
            ),
        ]

    def __str__(self) -> str:
        return f"Qualify with {self.min_correct} correct on {self.project}"


class TrainingItemQuerySet(models.QuerySet):
    def active(self) -> TrainingItemQuerySet:
        """Items still in training: served to attempts and counted by the pass rule."""
        return self.filter(retired_at__isnull=True)


class TrainingItem(models.Model):
    """Step 7: an item with its correct (gold) answer, shown to new annotators in ``position``
    order. After each answer they see whether it was right and the guideline section named by
    ``guideline_section`` (a heading of the guideline), with ``explanation``.

    Removing an item that annotators have answered retires it (``retired_at``) instead of
    deleting it, so past attempts keep their answers; a retired item is no longer served or
    counted, and adding its item again brings it back."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_items")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="training_uses")
    proposed_label = models.CharField(max_length=80, blank=True)
    answer = models.JSONField()
    explanation = models.TextField(blank=True)
    guideline_section = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = TrainingItemQuerySet.as_manager()

    class Meta:
        ordering = ["project", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["project", "item"], name="trainingitem_unique_item"),
        ]

    def __str__(self) -> str:
        return f"Training item {self.position} ({self.item_id})"


class TrainingAttempt(models.Model):
    """One pass of an annotator through the training items. ``passed`` is set when the last
    item is answered."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_attempts")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_attempts"
    )
    number = models.PositiveSmallIntegerField()
    guideline_version = models.ForeignKey(
        GuidelineVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    correct = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveSmallIntegerField(default=0)
    passed = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["project", "annotator", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "annotator", "number"], name="trainingattempt_unique_number"
            ),
        ]

    def __str__(self) -> str:
        return f"Training attempt {self.number} of {self.annotator}"


class TrainingAnswer(models.Model):
    attempt = models.ForeignKey(TrainingAttempt, on_delete=models.CASCADE, related_name="answers")
    training_item = models.ForeignKey(
        TrainingItem, on_delete=models.CASCADE, related_name="answers"
    )
    answer = models.JSONField()
    is_correct = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attempt", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "training_item"], name="traininganswer_once_per_attempt"
            ),
        ]

    def __str__(self) -> str:
        return f"Answer to {self.training_item_id} in attempt {self.attempt_id}"
