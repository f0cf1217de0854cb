"""Step 12: releases, their rows and files, and the webhooks that announce them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotation.models.sources import FINAL_RULES, Item
from dmops.models import Project

# --- Step 12: releases, their files, and the webhook that announces them. ------------------
#
# A release is an immutable, numbered snapshot of items with their final labels
# (annotation/final_label.py decides each). Its rows are written once, set-based; its files
# (annotation/exports) are built once by a Celery job, then served with checksums.

RELEASE_SPLITS = ("train", "dev", "test")


class Release(models.Model):
    """Step 12: version ``number`` (v1, v2, …) of a project's dataset, with its datasheet."""

    class Status(models.TextChoices):
        BUILDING = "building", "Building files"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    note = models.TextField(blank=True)
    known_limitations = models.TextField(blank=True)
    # {"train": 0.8, "dev": 0.1, "test": 0.1}; with ``seed`` it fixes every item's split.
    split_ratios = models.JSONField(default=dict)
    seed = models.CharField(max_length=64)
    # {"batch_ids": [...], "source_ids": [...]}: which active, labelled items are in.
    filters = models.JSONField(default=dict, blank=True)
    include_judgements = models.BooleanField(default=False)
    row_count = models.PositiveIntegerField(default=0)
    split_counts = models.JSONField(default=dict, blank=True)
    datasheet = models.JSONField(default=dict, blank=True)
    # The build job (annotation/services/release_build.py) reports here; the page polls it.
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of the build.")
    stage = models.CharField(max_length=120, blank=True, help_text="What the build is doing.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # The build's heartbeat, set with each progress report: a building release it has not
    # moved for DMOPS_STALE_JOB_SECONDS lost its worker (annotation/services/stale_jobs.py).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="release_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.project} v{self.number}"


class ReleaseRow(models.Model):
    """One item as released: text and metadata copied so the snapshot never changes."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="rows")
    item = models.ForeignKey(Item, on_delete=models.RESTRICT, related_name="+")
    split = models.CharField(max_length=5)
    text = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    label = models.JSONField(null=True, blank=True)
    label_rule = models.CharField(max_length=12, choices=FINAL_RULES)
    confidence = models.FloatField(null=True, blank=True)
    judgements = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["release", "id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "item"], name="releaserow_unique_item")
        ]
        indexes = [
            # Exports read a release (or one split of it) in item order from the first row:
            # index scans with no sort, so the first byte goes out at once. The whole release
            # is read through releaserow_unique_item (release, item).
            models.Index(fields=["release", "split", "item"], name="releaserow_split"),
        ]

    def __str__(self) -> str:
        return f"{self.release}: item {self.item_id} ({self.split})"


class ReleaseFile(models.Model):
    """A built export file of a release (``split`` empty: every row), with its checksum."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="files")
    format = models.CharField(max_length=16)
    split = models.CharField(max_length=5, blank=True)
    path = models.CharField(max_length=500, help_text="Relative to MEDIA_ROOT.")
    sha256 = models.CharField(max_length=64)
    byte_count = models.BigIntegerField()
    row_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["release", "format", "split"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "format", "split"], name="releasefile_unique"
            )
        ]

    def __str__(self) -> str:
        return self.path


class Webhook(models.Model):
    """Where a project announces published releases; bodies are signed with ``secret``."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=1000)
    secret = models.CharField(max_length=128)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event sent (or being retried) to a webhook."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook} ({self.status})"
