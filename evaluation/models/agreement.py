"""Steps 9–10: agreement reports, the manager's quality thresholds, hidden gold answers and
aggregation runs. Final labels and review decisions live in annotation's tables (written through
annotation's services); these tables hold the numbers *about* the labels."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dmops.models import Project

__all__ = [
    "RELIABLE_ALPHA",
    "AgreementReport",
    "AggregationRun",
    "GoldAnswer",
    "QualitySettings",
]

# Krippendorff (2004): alpha >= 0.8 is reliable; 0.667 <= alpha < 0.8 allows tentative conclusions.
RELIABLE_ALPHA = 0.8


class QualitySettings(models.Model):
    """A project's quality thresholds, set by a manager. Absent row = the defaults below."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="quality_settings"
    )
    alpha_threshold = models.FloatField(
        default=0.667, help_text="Krippendorff's alpha the pilot must reach (step 9)."
    )
    gold_accuracy_min = models.FloatField(
        default=0.7, help_text="Annotators below this accuracy on gold items are flagged."
    )
    low_confidence_threshold = models.FloatField(
        default=0.7, help_text="Aggregated labels less confident than this go to review."
    )
    spot_check_percent = models.FloatField(
        default=5.0, help_text="Share of labelled items drawn at random for a spot check."
    )
    acceptance_threshold = models.FloatField(
        default=0.9, help_text="Share of spot checks a reviewer must accept (step 10)."
    )
    blind_mode = models.BooleanField(
        default=True,
        help_text="Annotators see no one else's judgements or reports until a batch is closed.",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "quality settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(alpha_threshold__gte=-1, alpha_threshold__lte=1),
                name="quality_alpha_range",
            ),
            models.CheckConstraint(
                condition=models.Q(spot_check_percent__gte=0, spot_check_percent__lte=100),
                name="quality_spot_check_range",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    gold_accuracy_min__gte=0,
                    gold_accuracy_min__lte=1,
                    low_confidence_threshold__gte=0,
                    low_confidence_threshold__lte=1,
                    acceptance_threshold__gte=0,
                    acceptance_threshold__lte=1,
                ),
                name="quality_shares_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Quality settings of {self.project}"


class AgreementReport(models.Model):
    """Every agreement figure for one batch with overlap > 1, computed by a Celery job.

    One row per batch: recomputing (more judgements arrived) overwrites it. Pilot reports are
    never deleted, so the pilots' rows are the history of agreement version by version.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Computing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="agreement_reports")
    batch = models.ForeignKey(
        "annotation.Batch", on_delete=models.CASCADE, related_name="agreement_reports"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The guideline version the judgements were made under (the newest if they were mixed).
    guideline_version = models.ForeignKey(
        "annotation.GuidelineVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    mixed_guidelines = models.BooleanField(default=False)
    schema_version = models.ForeignKey(
        "annotation.SchemaVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The threshold in force when computed, for the record; the gate uses the current one.
    threshold = models.FloatField(default=0.667)
    alpha = models.FloatField(null=True, blank=True)
    gwet_ac1 = models.FloatField(null=True, blank=True)
    percent_agreement = models.FloatField(null=True, blank=True)
    n_items = models.PositiveIntegerField(default=0)
    n_annotators = models.PositiveIntegerField(default=0)
    n_judgements = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True, help_text="Why figures are missing, or the error.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["batch"], name="agreementreport_one_per_batch"),
        ]
        indexes = [
            models.Index(fields=["project", "status"], name="agreementreport_project"),
        ]

    def __str__(self) -> str:
        return f"Agreement report on {self.batch} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status == self.Status.DONE


class GoldAnswer(models.Model):
    """A hidden gold item: a batch item whose true answer the manager knows."""

    batch_item = models.OneToOneField(
        "annotation.BatchItem", on_delete=models.CASCADE, related_name="gold_answer"
    )
    answer = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_item"]

    def __str__(self) -> str:
        return f"Gold answer for batch item {self.batch_item_id}"


class AggregationRun(models.Model):
    """One aggregation of a project's judgements into final labels, with what it estimated."""

    class Method(models.TextChoices):
        MAJORITY = "majority", "Majority vote"
        DAWID_SKENE = "dawid_skene", "Dawid–Skene"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="aggregation_runs")
    method = models.CharField(max_length=12, choices=Method.choices)
    n_items = models.PositiveIntegerField(default=0)
    n_written = models.PositiveIntegerField(default=0)
    n_kept_reviewed = models.PositiveIntegerField(default=0)
    n_gold = models.PositiveIntegerField(default=0)
    converged = models.BooleanField(null=True)
    # [{"annotator_id", "username", "n_judgements", "estimated_accuracy"}]
    annotator_stats = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_method_display()} on {self.project}"
