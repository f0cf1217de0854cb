"""Step 10: reviewers' decisions on items."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotation.models.sources import Item


class Review(models.Model):
    """Step 10: a reviewer's decision on an item's label (accept, correct, or send back)."""

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept the aggregated label"
        CORRECT = "correct", "Correct the label"
        SEND_BACK = "send_back", "Send back for re-annotation"

    class Reason(models.TextChoices):
        DISAGREEMENT = "disagreement", "Annotators disagreed"
        LOW_CONFIDENCE = "low_confidence", "Low aggregated confidence"
        SPOT_CHECK = "spot_check", "Random spot check"
        MODEL = "model", "Flagged by model verification"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="reviews"
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    label = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["item", "-created_at"], name="review_item_recent")]

    def __str__(self) -> str:
        return f"Review of item {self.item_id}: {self.decision or 'pending'}"
