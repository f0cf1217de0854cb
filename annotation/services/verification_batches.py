"""Annotation-side writes that model verification (step 11, in ``evaluation``) asks for.

``evaluation`` never writes annotation's tables itself: it calls these services to create a
verification batch ("the label is X — is that right?") and to set the queue's per-item
priority from a model's uncertainty. What evaluation records about *why* an item was sent
(run, model, score) stays in evaluation's own tables, keyed by the batch item returned here.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import PermissionDenied
from django.db import transaction

from annotation.models import Batch, BatchItem
from annotation.services.labelling import batch_create
from dmops.errors import DomainError
from dmops.models import Project

#: Verification batches are served before main batches (re-annotation batches use 200).
VERIFICATION_BATCH_PRIORITY = 100


@transaction.atomic
def verification_batch_create(
    *,
    project: Project,
    by,
    name: str,
    proposals: Mapping[int, tuple[str, float]],
    overlap: int = 1,
    is_open: bool = True,
) -> tuple[Batch, dict[int, BatchItem]]:
    """A manager creates a verification batch from ``{item_id: (proposed_label, priority)}``.

    Each item becomes one batch item asking whether ``proposed_label`` is right; ``priority``
    (e.g. how suspicious the label is) orders the queue, highest first. The batch uses the
    project's latest final schema and opens at once when it has one. Items that are inactive
    or belong to another project are left out. Returns the batch and its items by item id.
    """
    if not proposals:
        raise DomainError("Choose at least one item to verify.")
    for label, _ in proposals.values():
        if not label or len(label) > 80:
            raise DomainError("Every proposal needs a label of at most 80 characters.")
    batch = batch_create(
        project=project,
        by=by,
        name=name,
        items=list(proposals),
        kind=Batch.Kind.VERIFICATION,
        overlap=overlap,
        priority=VERIFICATION_BATCH_PRIORITY,
        proposed_labels={item_id: label for item_id, (label, _) in proposals.items()},
    )
    batch_items = {bi.item_id: bi for bi in BatchItem.objects.filter(batch=batch)}
    if not batch_items:
        raise DomainError("None of the chosen items can be verified (inactive or not found).")
    for item_id, batch_item in batch_items.items():
        batch_item.priority = float(proposals[item_id][1])
    BatchItem.objects.bulk_update(list(batch_items.values()), ["priority"], batch_size=2000)
    if is_open and batch.schema_version_id is not None:
        Batch.objects.filter(pk=batch.pk).update(is_open=True)
        batch.is_open = True
    return batch, batch_items


@transaction.atomic
def batch_priorities_write(*, batch: Batch, by, priorities: Mapping[int, float]) -> int:
    """A manager sets the queue order of a batch's items: ``{item_id: priority}``, served
    highest first. Items not in the batch are ignored; items not mentioned keep theirs.
    Returns how many batch items changed."""
    if not batch.project.is_manager(by):
        raise PermissionDenied("Only a project manager can reorder a batch.")
    rows = list(BatchItem.objects.filter(batch=batch, item_id__in=list(priorities)))
    for row in rows:
        row.priority = float(priorities[row.item_id])
    BatchItem.objects.bulk_update(rows, ["priority"], batch_size=2000)
    return len(rows)
