"""Step 11: model-based verification runs, the embedding cache they share, the proposals they
send to people (verification batch items) and external predictions posted over REST.

The numbers live in ``VerificationRun.report`` (JSON) and ``figures`` (SVG strings); the rows
here only hold what services and selectors filter on.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dmops.models import Project

__all__ = ["ExternalPrediction", "ItemEmbedding", "VerificationProposal", "VerificationRun"]


class VerificationRun(models.Model):
    """One verification of a project's labelled data, computed by a Celery job and kept with
    its settings, model revision and library versions so two runs can be compared."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="verification_runs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stage = models.CharField(max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    cancel_requested = models.BooleanField(default=False)
    # The run's settings: {"n_folds", "seeds", "fractions", "top_k", "batch_size", …}
    config = models.JSONField(default=dict, blank=True)
    model_revision = models.CharField(max_length=120, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)
    n_items = models.PositiveIntegerField(default=0)
    n_embedded = models.PositiveIntegerField(default=0, help_text="Vectors computed, not cached.")
    macro_f1 = models.FloatField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True)
    figures = models.JSONField(default=dict, blank=True, help_text="Name to matplotlib SVG.")
    error = models.TextField(blank=True)
    findings_note = models.TextField(blank=True)
    findings_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    findings_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the job read the labelled data: the gate compares it with the last annotation.
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="verificationrun_progress_max"
            ),
        ]
        indexes = [models.Index(fields=["project", "status"], name="verificationrun_project")]

    def __str__(self) -> str:
        return f"Verification run {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED)


class ItemEmbedding(models.Model):
    """An item's vector under one embedding revision (weights + tokenizer + pooling + length),
    float32 bytes. ``text_key`` (sha256 of revision and text) makes a vector stale when the
    item's text changes, e.g. after pre-processing is undone."""

    item = models.ForeignKey("annotation.Item", on_delete=models.CASCADE, related_name="+")
    model_revision = models.CharField(max_length=120)
    text_key = models.CharField(max_length=64)
    vector = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "model_revision"], name="itemembedding_unique_revision"
            ),
        ]

    def __str__(self) -> str:
        return f"Embedding of item {self.item_id} ({self.model_revision})"


class VerificationProposal(models.Model):
    """Why a verification batch item exists: "the label is X — is that right?" with the run
    (or external model) that proposed it, its score and the label the model suggests."""

    class Source(models.TextChoices):
        SUSPICIOUS = "suspicious", "Suspicious label (run)"
        RUN_PREDICTION = "run_prediction", "Run's model prediction"
        EXTERNAL = "external", "External prediction"

    class Verdict(models.TextChoices):
        CONFIRMED = "confirmed", "People confirmed the given label"
        REJECTED = "rejected", "People rejected the given label"
        UNDECIDED = "undecided", "Unsure or tied"

    batch_item = models.OneToOneField(
        "annotation.BatchItem", on_delete=models.CASCADE, related_name="verification_proposal"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    run = models.ForeignKey(
        VerificationRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="proposals",
    )
    model_name = models.CharField(max_length=200, blank=True)
    given_label = models.CharField(max_length=200)
    suggested_label = models.CharField(max_length=200, blank=True)
    score = models.FloatField(help_text="Suspicion (1 - self-confidence) or the model's score.")
    verdict = models.CharField(max_length=10, choices=Verdict.choices, blank=True)
    people_label = models.CharField(max_length=200, blank=True)
    label_written = models.BooleanField(default=False)
    folded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-score", "pk"]
        indexes = [models.Index(fields=["run", "verdict"], name="verifproposal_run")]

    def __str__(self) -> str:
        return f"Proposal {self.given_label!r} on batch item {self.batch_item_id}"


class ExternalPrediction(models.Model):
    """A label an outside model predicted for an item (pre-annotation), posted over REST.
    Posting again for the same model and item replaces it."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="external_predictions"
    )
    item = models.ForeignKey("annotation.Item", on_delete=models.CASCADE, related_name="+")
    model_name = models.CharField(max_length=200)
    label = models.CharField(max_length=200)
    score = models.FloatField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "model_name", "-score", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "model_name"], name="externalprediction_unique_model"
            ),
        ]
        indexes = [models.Index(fields=["project", "model_name"], name="externalprediction_model")]

    def __str__(self) -> str:
        return f"{self.model_name}: item {self.item_id} → {self.label}"
