"""The question log: annotators ask, managers answer, and answers can become guideline text."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotation.models.schema import GuidelineVersion
from annotation.models.sources import Item
from dmops.models import Project


class Question(models.Model):
    """An annotator's question, optionally about one item and one label. ``guideline_version``
    is the version current when it was asked; ``promoted_to`` the version its answer went into.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        PROMOTED = "promoted", "Promoted to the guideline"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="questions")
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    item = models.ForeignKey(
        Item, on_delete=models.SET_NULL, null=True, blank=True, related_name="questions"
    )
    label = models.CharField(max_length=80, blank=True)
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    guideline_version = models.ForeignKey(
        GuidelineVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    # When the asker last saw the answer; an unseen answer is shown on the workbench.
    answer_seen_at = models.DateTimeField(null=True, blank=True)
    promoted_to = models.ForeignKey(
        GuidelineVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="promoted_questions",
    )

    class Meta:
        ordering = ["project", "-created_at", "-pk"]
        indexes = [
            models.Index(fields=["project", "status", "-created_at"], name="question_inbox"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open") | ~models.Q(answer=""),
                name="question_answered_has_answer",
            ),
        ]

    def __str__(self) -> str:
        return f"Question {self.pk} ({self.status})"
