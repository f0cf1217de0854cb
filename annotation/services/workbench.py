"""Step 8: what the workbench does for an annotator besides answering (annotation/services/
labelling.py): record their first visit, and undo their last answer."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from annotation.models import Annotation, AnnotatorState, BatchItem, Lease, Review
from dmops.errors import DomainError
from dmops.models import Project


def annotator_mark_joined(*, project: Project, user, now: datetime | None = None) -> AnnotatorState:
    """Record the first time ``user`` opened the project's workbench; later visits keep it."""
    state, _ = AnnotatorState.objects.get_or_create(project=project, user=user)
    if state.joined_at is None:
        state.joined_at = now or timezone.now()
        # Conditional, so two first visits racing in two tabs keep the earlier moment.
        AnnotatorState.objects.filter(pk=state.pk, joined_at__isnull=True).update(
            joined_at=state.joined_at
        )
    return state


@transaction.atomic
def annotation_undo_last(*, project: Project, by, now: datetime | None = None) -> Lease:
    """Reopen ``by``'s most recent annotation in an open batch of the project: the annotation
    is deleted and its lease flips back from submitted to active with a fresh expiry, so the
    queue hands the item back first (it returns the oldest live lease). Flipping the same lease
    keeps submitted + live leases of the item unchanged, so the overlap never overshoots, and
    the once-per-annotator constraint is kept. Refused when nothing is left to undo or when a
    reviewer has already decided the item's label."""
    now = now or timezone.now()
    latest = (
        # Through the annotation's copy of its batch: the (annotator, batch) index, no join
        # through the batch items.
        Annotation.objects.filter(annotator=by, batch__project=project, batch__is_open=True)
        .order_by("-created_at", "-pk")
        .values_list("pk", "batch_item_id", "item_id")
        .first()
    )
    if latest is None:
        raise DomainError("Nothing to undo: you have no answer in an open batch of this project.")
    annotation_id, batch_item_id, item_id = latest
    batch_item = (
        BatchItem.objects.select_for_update(of=("self",))
        .select_related("batch")
        .get(pk=batch_item_id)
    )
    lease = (
        Lease.objects.select_for_update()
        .filter(batch_item=batch_item, annotator=by, state=Lease.State.SUBMITTED)
        .order_by("-created_at", "-pk")
        .first()
    )
    # Read again under the item's lock: a second undo racing this one finds it gone.
    if not Annotation.objects.filter(pk=annotation_id).exists():
        raise DomainError("That answer was already undone.")
    if Review.objects.filter(item_id=item_id).exclude(decision="").exists():
        raise DomainError(
            "Your last answer can no longer be undone: a reviewer has already decided the "
            "item's label."
        )
    if lease is None:
        raise DomainError("Your last answer can no longer be undone: its lease is gone.")
    Annotation.objects.filter(pk=annotation_id).delete()
    batch_item.submitted_count = max(0, batch_item.submitted_count - 1)
    batch_item.is_complete = False
    batch_item.save(update_fields=["submitted_count", "is_complete"])
    lease.state = Lease.State.ACTIVE
    lease.expires_at = now + timedelta(seconds=batch_item.batch.lease_ttl)
    lease.save(update_fields=["state", "expires_at"])
    return lease
