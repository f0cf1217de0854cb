"""Steps 4–5: what is labelled (schema versions and their labels) and how (guidelines)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dmops.models import Project


class SchemaVersion(models.Model):
    """Step 4: what is labelled. Frozen once final or used; edits then make a new version."""

    class TaskType(models.TextChoices):
        BINARY = "binary", "Binary verification (yes / no / unsure)"
        SINGLE = "single", "Single label"
        MULTI = "multi", "Multi-label"
        PAIRWISE = "pairwise", "Pairwise comparison"

    class LabelScale(models.TextChoices):
        """How single-label answers relate, which decides the agreement metric (Krippendorff's
        levels of measurement): unordered, ordered by label position, or spaced by value."""

        NOMINAL = "nominal", "Nominal (unordered labels)"
        ORDINAL = "ordinal", "Ordinal (labels ordered by position)"
        INTERVAL = "interval", "Interval (labels carry evenly comparable numeric values)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="schema_versions")
    number = models.PositiveIntegerField()
    task_type = models.CharField(max_length=10, choices=TaskType.choices)
    question = models.CharField(
        max_length=500, blank=True, help_text="For binary verification: the yes/no question."
    )
    note = models.TextField(blank=True)
    label_scale = models.CharField(
        max_length=10,
        choices=LabelScale.choices,
        default=LabelScale.NOMINAL,
        help_text="Single-label schemas: whether the labels are ordered (for agreement).",
    )
    is_final = models.BooleanField(default=False)
    finalised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    finalised_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="schema_unique_number")
        ]

    def __str__(self) -> str:
        return f"Schema v{self.number}"


class Label(models.Model):
    schema_version = models.ForeignKey(
        SchemaVersion, on_delete=models.CASCADE, related_name="labels"
    )
    key = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True)
    hotkey = models.CharField(max_length=1, blank=True)
    # For binary verification schemas: the closed-ended question asked about this label.
    question = models.CharField(max_length=500, blank=True)
    positive_examples = models.JSONField(default=list, blank=True)
    negative_examples = models.JSONField(default=list, blank=True)
    order = models.PositiveIntegerField(default=0)
    # On an interval scale, the label's number (e.g. 1..5 stars); empty = its position.
    value = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["schema_version", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["schema_version", "key"], name="label_unique_key"),
            models.UniqueConstraint(
                fields=["schema_version", "hotkey"],
                condition=~models.Q(hotkey=""),
                name="label_unique_hotkey",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GuidelineVersion(models.Model):
    """Step 5: a published guideline version. The highest number is the current one."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="guideline_versions"
    )
    number = models.PositiveIntegerField()
    body = models.TextField(help_text="Markdown; raw HTML is stripped when rendered.")
    change_summary = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="guideline_unique_number")
        ]

    def __str__(self) -> str:
        return f"Guideline v{self.number}"
