"""Reads for the labelling hot path (next item, submit): one lean query each, plain dicts.

Every annotator runs these twice per judgement, so they skip what the general selectors do for
convenience (whole rows, model instances, DRF model serializers) and cache what cannot change:
a final schema version is frozen (annotation.services.schema.schema_version_is_frozen), so its
question and labels are read once per process. Drafts are read every time. A save or delete of
a version or label seen by this process drops its entry anyway: the admin can edit rows the
services would refuse to, and test databases hand out the same ids again after a rollback.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404
from rest_framework.fields import DateTimeField

from annotation.models import Annotation, Batch, BatchItem, Label, Lease, SchemaVersion
from annotation.queue import NOT_A_MEMBER
from dmops.db import hot_cursor
from dmops.models import Membership

LABEL_FIELDS = ("key", "name", "description", "category", "hotkey", "question")

# Formats exactly as the API's serializers do (ISO 8601, "Z" for UTC).
_datetime = DateTimeField()


class _Schema(NamedTuple):
    question: dict[str, Any]  # QuestionSerializer's shape
    keys: frozenset[str]
    labels: tuple[Label, ...]  # shared by every request of the process: read them only


# schema version id -> its _Schema; only final versions are kept.
_final_schemas: dict[int, _Schema] = {}


_SUBMIT_ACCESS_SQL = f"""
    SELECT (SELECT m.role FROM {Membership._meta.db_table} m
            WHERE m.project_id = b.project_id AND m.user_id = %(user)s),
           l.annotator_id, l.batch_item_id
    FROM {BatchItem._meta.db_table} bi JOIN {Batch._meta.db_table} b ON b.id = bi.batch_id
    LEFT JOIN {Lease._meta.db_table} l ON l.id = %(lease)s
    WHERE bi.id = %(batch_item)s
"""  # noqa: S608 — table names come from model metadata, values are parameters


class SubmitAccess:
    """What a submit may touch, read in one query: the user's role on the batch item's
    project, and the lease they name."""

    def __init__(self, user, batch_item_id: int, lease_id: int | None) -> None:
        with hot_cursor() as cursor:
            cursor.execute(
                _SUBMIT_ACCESS_SQL,
                {"user": user.pk, "lease": lease_id, "batch_item": batch_item_id},
            )
            row = cursor.fetchone()
        self.user, self.batch_item_id, self.lease_id = user, batch_item_id, lease_id
        self.exists = row is not None
        self.role, self.lease_annotator_id, self.lease_batch_item_id = row or (None, None, None)

    def check_member(self) -> str:
        """The role; 404 if the batch item does not exist, 403 for a non-member, as
        ``annotation.selectors.labelling.batch_item_for_member``."""
        if not self.exists:
            raise Http404("No such item in any batch.")
        if self.role is None:
            raise PermissionDenied(NOT_A_MEMBER)
        return self.role

    def lease(self) -> Lease:
        """The user's lease on the batch item: 404 if it does not exist, 403 if it is someone
        else's, 400 if it is for another item (as ``annotation.selectors.labelling.
        lease_on_item``). Only the ids are loaded."""
        if self.lease_annotator_id is None:
            raise Http404("No such lease.")
        if self.lease_annotator_id != self.user.pk:
            raise PermissionDenied("This lease is another annotator's.")
        if self.lease_batch_item_id != self.batch_item_id:
            raise ValidationError({"lease": "This lease is for another item."})
        return Lease(
            pk=self.lease_id,
            annotator_id=self.lease_annotator_id,
            batch_item_id=self.lease_batch_item_id,
        )


@receiver([post_save, post_delete], sender=SchemaVersion)
def _forget_schema_version(sender, instance: SchemaVersion, **kwargs) -> None:
    _final_schemas.pop(instance.pk, None)


@receiver([post_save, post_delete], sender=Label)
def _forget_label_schema(sender, instance: Label, **kwargs) -> None:
    _final_schemas.pop(instance.schema_version_id, None)


def _schema(schema_version_id: int | None, version: SchemaVersion | None = None) -> _Schema | None:
    if schema_version_id is None:
        return None
    cached = _final_schemas.get(schema_version_id)
    if cached is not None:
        return cached
    if version is None:
        version = SchemaVersion.objects.only("number", "task_type", "question", "is_final").get(
            pk=schema_version_id
        )
    labels = tuple(Label.objects.filter(schema_version_id=schema_version_id))
    schema = _Schema(
        question={
            "schema_version": version.number,
            "task_type": version.task_type,
            "question": version.question,
            "labels": [{name: getattr(label, name) for name in LABEL_FIELDS} for label in labels],
        },
        keys=frozenset(label.key for label in labels),
        labels=labels,
    )
    if version.is_final:
        _final_schemas[schema_version_id] = schema
    return schema


def schema_question(schema_version_id: int | None) -> dict[str, Any] | None:
    """The schema version as the labelling screen shows it: number, task type, question and
    labels (``QuestionSerializer``'s shape); None without a schema."""
    schema = _schema(schema_version_id)
    return schema.question if schema else None


def schema_label_keys(schema_version: SchemaVersion) -> frozenset[str]:
    """The label keys of a schema version; no query once a final version has been read."""
    schema = _schema(schema_version.pk, schema_version)
    return schema.keys if schema else frozenset()


def schema_labels(schema_version: SchemaVersion) -> list[Label]:
    """The labels of a schema version in their order; no query once a final version has been
    read. The instances are shared with other requests: do not change them."""
    schema = _schema(schema_version.pk, schema_version)
    return list(schema.labels) if schema else []


def leased_item(lease: Lease) -> dict[str, Any]:
    """What the labelling screen needs for one leased item, ``LeasedItemSerializer``'s shape,
    from a lease whose batch item, item and batch are loaded (``annotation.queue.next_item``
    loads them with the lease) plus the cached schema: no query."""
    batch_item = lease.batch_item
    batch = batch_item.batch
    return {
        "lease_id": lease.pk,
        "expires_at": _datetime.to_representation(lease.expires_at),
        "batch_item_id": batch_item.pk,
        "item_id": batch_item.item_id,
        "text": batch_item.item.text,
        "metadata": batch_item.item.metadata,
        "proposed_label": batch_item.proposed_label,
        "batch": {"id": batch.pk, "name": batch.name, "kind": batch.kind},
        "question": schema_question(batch.schema_version_id),
    }


def submitted_annotation(annotation: Annotation, annotator) -> dict[str, Any]:
    """The answer just submitted, in ``AnnotationSerializer``'s shape, without a query."""
    return {
        "id": annotation.pk,
        "batch_item": annotation.batch_item_id,
        "item": annotation.item_id,
        "annotator": annotator.username,
        "answer": annotation.answer,
        "schema_version": annotation.schema_version_id,
        "guideline_version": annotation.guideline_version_id,
        "seconds_spent": annotation.seconds_spent,
        "created_at": _datetime.to_representation(annotation.created_at),
    }
