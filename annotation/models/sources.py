"""Steps 2–3: where items come from and how they are cleaned."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dmops.models import Project


class Source(models.Model):
    """Step 2: a body of raw data with its provenance and licence."""

    class Licence(models.TextChoices):
        CC_BY_SA_4 = "cc-by-sa-4.0", "CC BY-SA 4.0"
        CC_BY_4 = "cc-by-4.0", "CC BY 4.0"
        CC0 = "cc0-1.0", "CC0 1.0"
        PROPRIETARY = "proprietary-with-permission", "Proprietary, with permission"
        OTHER = "other", "Other (see licence text)"
        UNKNOWN = "unknown", "Unknown"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        TSV = "tsv", "TSV"
        JSON = "json", "JSON array"
        JSONL = "jsonl", "JSON Lines"
        TEXT = "text", "Plain text, one item per line"
        LABELSTUDIO = "labelstudio", "Label Studio JSON export"
        WIKITEXT = "wikitext", "Wikipedia wikitext (one article)"
        MEDIAWIKI_XML = "mediawiki_xml", "MediaWiki XML export / dump"
        RENDERED_WIKI = "rendered_wiki", "Rendered Wikipedia text with [markers]"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=200)
    origin_url = models.URLField("origin URL", max_length=1000, blank=True)
    licence = models.CharField(max_length=40, choices=Licence.choices, default=Licence.UNKNOWN)
    licence_text = models.TextField(blank=True, help_text="Attribution and licence details.")
    licence_waiver = models.TextField(
        blank=True, help_text="A manager's reason to use data whose licence is unknown."
    )
    collected_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    format = models.CharField(max_length=20, choices=Format.choices)
    options = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def licence_cleared(self) -> bool:
        return self.licence != self.Licence.UNKNOWN or bool(self.licence_waiver.strip())


class ImportJob(models.Model):
    """One upload of a file into a source; all or nothing, with a report."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Importing"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="imports")
    upload = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    file_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    items_created = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # The first rejections, each {"line", "code", "reason"}; the count above is the full number.
    rejections = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    error_line = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The heartbeat: the claim and every progress write set it (QuerySet.update and the raw
    # progress UPDATE skip auto_now, so they set it themselves). A running job it has not
    # moved for DMOPS_STALE_JOB_SECONDS lost its worker (annotation/services/stale_jobs.py).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Import of {self.file_name} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.file_size:
            return 0
        return min(99, int(100 * self.bytes_read / self.file_size))

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


FINAL_RULES = [("reviewed", "Reviewed"), ("aggregated", "Aggregated"), ("single", "Single")]


class Item(models.Model):
    """One unit of text to label. ``raw_text`` is kept as imported so pre-processing can be
    undone until step 3 is signed off; ``text`` is what annotators see."""

    # No database-level foreign keys on project and source: their per-row checks (one SPI
    # query and a FOR KEY SHARE lock per row and key) were a third of PostgreSQL's CPU time
    # in an import (bench/README.md, "Import"). Integrity is kept otherwise: an import locks
    # its project and source rows once (FOR KEY SHARE) and fails if they are gone; Django's
    # CASCADE deletes the items; and migration 0011's deferred triggers refuse to commit the
    # deletion of a project or source that still has items (one index probe per deleted row).
    # No index on project of its own: the (project, …) indexes below all start with it, and
    # every index costs each imported row an insertion.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="items", db_index=False, db_constraint=False
    )
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="items", db_constraint=False
    )
    # Provenance only, so no database-level constraint: the import updates its job's progress
    # while it inserts, and a per-row FK check against that ever-updated row (whose old
    # versions the open import cannot prune) made the checks the slowest part of an import.
    # Django still applies SET_NULL when a job is deleted.
    import_job = models.ForeignKey(
        ImportJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="items",
        db_constraint=False,
    )
    position = models.BigIntegerField(help_text="Line or record number in the imported file.")
    external_id = models.CharField(max_length=255, blank=True)
    text = models.TextField()
    raw_text = models.TextField()
    # Hash of the normalised text: the dedupe key, unique per project.
    text_hash = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict, blank=True)
    weak_labels = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    dropped_by = models.CharField(max_length=40, blank=True)
    # The item's one label as released, written by services only: a reviewer's decision, else
    # the aggregate of its judgements (evaluation writes it through annotation's services),
    # else a single judgement. ``final_rule`` records which, per row.
    final_label = models.JSONField(null=True, blank=True)
    final_confidence = models.FloatField(null=True, blank=True)
    final_rule = models.CharField(max_length=12, choices=FINAL_RULES, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "position"]
        constraints = [
            models.UniqueConstraint(fields=["project", "text_hash"], name="item_unique_text")
        ]
        # No (project, is_active) index: nearly every item is active, so it narrows nothing,
        # and the queries that filter on it read other columns from the table anyway.
        indexes = [
            models.Index(fields=["project", "source", "position"], name="item_source_order"),
        ]

    def __str__(self) -> str:
        return self.text[:80]


class PreprocessingRun(models.Model):
    """Step 3: one configured pass over a project's items, reversible until step 3 is done."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        APPLIED = "applied", "Applied"
        REVERTED = "reverted", "Reverted"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="preprocessing_runs"
    )
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Pre-processing run {self.pk} ({self.status})"
