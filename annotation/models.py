"""Everything an item goes through: where it came from, how it was cleaned, what is labelled."""

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

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="items")
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
        indexes = [
            models.Index(fields=["project", "source", "position"], name="item_source_order"),
            models.Index(fields=["project", "is_active"], name="item_active"),
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


class SchemaVersion(models.Model):
    """Step 4: what is labelled. Frozen once final or used; edits then make a new version."""

    class TaskType(models.TextChoices):
        BINARY = "binary", "Binary verification (yes / no / unsure)"
        SINGLE = "single", "Single label"
        MULTI = "multi", "Multi-label"
        PAIRWISE = "pairwise", "Pairwise comparison"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="schema_versions")
    number = models.PositiveIntegerField()
    task_type = models.CharField(max_length=10, choices=TaskType.choices)
    question = models.CharField(
        max_length=500, blank=True, help_text="For binary verification: the yes/no question."
    )
    note = models.TextField(blank=True)
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


# --- Step 8: labelling. Batches of items, leased to annotators with exact-N overlap. ---------
#
# The queue (annotation/queue.py) gives an annotator one BatchItem at a time through a Lease.
# A batch item is "full" when submitted_count + live leases >= batch.overlap, where a lease is
# live while state is ACTIVE and expires_at > now: expiry needs no write to stop counting.


class Batch(models.Model):
    """A set of items labelled together by ``overlap`` different annotators each."""

    class Kind(models.TextChoices):
        PILOT = "pilot", "Pilot"
        MAIN = "main", "Main"
        TRAINING = "training", "Training"
        VERIFICATION = "verification", "Verification"

    class SkipPolicy(models.TextChoices):
        # The skipper never sees the item again; its slot goes to someone else.
        REQUEUE_OTHERS = "requeue_others", "Give it to someone else"
        # The skipper may get the item again, once nothing they have not seen is left.
        REQUEUE_ME_LATER = "requeue_me_later", "Give it back to me later"
        # Nobody gets the item any more (unreadable, off-topic …).
        DROP = "drop", "Drop the item from the batch"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MAIN)
    overlap = models.PositiveSmallIntegerField(
        default=1, help_text="How many different annotators label each item."
    )
    priority = models.IntegerField(default=0, help_text="Higher batches are served first.")
    is_open = models.BooleanField(default=False)
    skip_policy = models.CharField(
        max_length=20, choices=SkipPolicy.choices, default=SkipPolicy.REQUEUE_OTHERS
    )
    lease_ttl = models.PositiveIntegerField(
        default=1800, help_text="Seconds an annotator holds an item before it goes back."
    )
    schema_version = models.ForeignKey(
        SchemaVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="batches"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-priority", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(overlap__gte=1), name="batch_overlap_min"),
            models.CheckConstraint(condition=models.Q(lease_ttl__gte=1), name="batch_ttl_min"),
        ]
        indexes = [models.Index(fields=["project", "is_open"], name="batch_project_open")]

    def __str__(self) -> str:
        return self.name


class BatchItem(models.Model):
    """The queue unit: one item in one batch, with its denormalised progress. The counters are
    written only by services holding this row's lock (SELECT … FOR UPDATE)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="batch_items")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="batch_items")
    # For binary verification: the label whose presence the annotator confirms or rejects.
    proposed_label = models.CharField(max_length=80, blank=True)
    # Higher first within a batch; written later from model uncertainty.
    priority = models.FloatField(default=0)
    submitted_count = models.PositiveIntegerField(default=0)
    is_complete = models.BooleanField(default=False)
    is_dropped = models.BooleanField(default=False)

    class Meta:
        ordering = ["batch", "-priority", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "item"], name="batchitem_unique_item"),
        ]
        indexes = [
            # The queue scans this in order and stops at the first free row; finished and
            # dropped rows are not in it, so the scan does not grow as the batch is worked.
            models.Index(
                fields=["batch", "-priority", "id"],
                condition=models.Q(is_complete=False, is_dropped=False),
                name="batchitem_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch}: item {self.item_id}"


class Lease(models.Model):
    """An annotator's hold on a batch item. ``returnable`` marks the only leases after which the
    same annotator may be given the item again: skips under the requeue_me_later policy."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    batch_item = models.ForeignKey(BatchItem, on_delete=models.CASCADE, related_name="leases")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    returnable = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # At most one active lease per annotator and item.
            models.UniqueConstraint(
                fields=["batch_item", "annotator"],
                condition=models.Q(state="active"),
                name="lease_one_active",
            ),
            # Never the same item twice: every lease but a requeue_me_later skip is unique per
            # (item, annotator) whatever its state, so submitted, released, expired and
            # requeue_others skips all block a second lease. The queue's NOT EXISTS uses it.
            models.UniqueConstraint(
                fields=["batch_item", "annotator"],
                condition=models.Q(returnable=False),
                name="lease_once_per_annotator",
            ),
            models.CheckConstraint(
                condition=models.Q(returnable=False) | models.Q(state="skipped"),
                name="lease_returnable_is_skip",
            ),
        ]
        indexes = [
            # Counting an item's live leases.
            models.Index(
                fields=["batch_item", "expires_at"],
                condition=models.Q(state="active"),
                name="lease_live",
            ),
            # An annotator's current lease, on every reload.
            models.Index(
                fields=["annotator", "expires_at"],
                condition=models.Q(state="active"),
                name="lease_annotator_active",
            ),
        ]

    def __str__(self) -> str:
        return f"Lease {self.pk} ({self.state})"


class Annotation(models.Model):
    """One annotator's answer on one batch item, checked against the batch's schema."""

    batch_item = models.ForeignKey(BatchItem, on_delete=models.CASCADE, related_name="annotations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations"
    )
    answer = models.JSONField()
    schema_version = models.ForeignKey(
        SchemaVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    guideline_version = models.ForeignKey(
        GuidelineVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    seconds_spent = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_item", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch_item", "annotator"], name="annotation_once_per_annotator"
            ),
            models.CheckConstraint(
                condition=models.Q(seconds_spent__gte=0), name="annotation_seconds_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Annotation {self.pk} by {self.annotator_id}"


class AnnotatorState(models.Model):
    """Per-project switch a manager uses to stop an annotator getting new items."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotator_states")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator_states"
    )
    paused = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="annotatorstate_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.project}: {'paused' if self.paused else 'active'}"


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
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

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
