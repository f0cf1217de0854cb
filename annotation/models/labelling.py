"""Step 8: batches, leases, annotations and per-annotator state."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotation.models.schema import GuidelineVersion, SchemaVersion
from annotation.models.sources import Item
from dmops.models import Project

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
        # An item's live leases (at most its overlap) are counted through lease_one_active,
        # which starts with the batch item: a (batch_item, expires_at) index of its own was
        # one more to update on every lease and never chosen by the planner.
        indexes = [
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

    # Indexed by annotation_once_per_annotator, which starts with it.
    batch_item = models.ForeignKey(
        BatchItem, on_delete=models.CASCADE, related_name="annotations", db_index=False
    )
    # A copy of batch_item.batch, so that an annotator's count in a batch (the workbench's
    # progress line, on every answer) reads one index instead of joining every item of the
    # batch. Deleted with its batch item; no database constraint, whose per-insert check would
    # lock the one batch row from every concurrent submit.
    batch = models.ForeignKey(
        Batch, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    # Indexed by annotation_annotator_batch, which starts with it.
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="annotations",
        db_index=False,
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
        indexes = [
            # An annotator's answers, and their count in one batch (the workbench's progress
            # line). One index for both, so the planner cannot take the first for the second.
            models.Index(fields=["annotator", "batch"], name="annotation_annotator_batch"),
        ]

    def __str__(self) -> str:
        return f"Annotation {self.pk} by {self.annotator_id}"


class AnnotatorState(models.Model):
    """An annotator's standing in one project: when they first opened it, whether they have
    qualified (step 7) and whether a manager paused them (step 6). The roster status is
    derived from these and from their work (annotation.selectors.team)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotator_states")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator_states"
    )
    paused = models.BooleanField(default=False)
    joined_at = models.DateTimeField(
        null=True, blank=True, help_text="First time the annotator opened the project."
    )
    qualified_at = models.DateTimeField(null=True, blank=True)
    # Answers promoted into the guideline after this moment are news to them on the workbench.
    answers_seen_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="annotatorstate_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.project}: {'paused' if self.paused else 'active'}"
