"""Reads for the labelling hot path (next item, submit): one lean query each, plain dicts.

Every annotator runs these twice per judgement, so they skip what the general selectors do for
convenience (whole rows, model instances, DRF model serializers) and cache what cannot change:
a final schema version is frozen (annotation.services.schema.schema_version_is_frozen), so its
question and labels are read once per process. Drafts are read every time. A save or delete of
a version or label seen by this process drops its entry anyway: the admin can edit rows the
services would refuse to, and test databases hand out the same ids again after a rollback.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404
from rest_framework.fields import DateTimeField

from annotation.models import Annotation, Batch, BatchItem, Label, Lease, SchemaVersion
from dmops.models import Membership, Project

NOT_A_MEMBER = "You are not a member of this project."
LABEL_FIELDS = ("key", "name", "description", "category", "hotkey", "question")

# Formats exactly as the API's serializers do (ISO 8601, "Z" for UTC).
_datetime = DateTimeField()
# schema version id -> (question payload, label keys); only final versions are kept.
_final_schemas: dict[int, tuple[dict[str, Any], frozenset[str]]] = {}


_MEMBER_ROLE_SQL = f"""
    SELECT p.id, m.role FROM {Project._meta.db_table} p
    LEFT JOIN {Membership._meta.db_table} m ON m.project_id = p.id AND m.user_id = %s
    WHERE p.id = %s
"""  # noqa: S608 — table names come from model metadata, values are parameters


def member_role(user, project_id: int) -> str:
    """The user's role on the project, in one query; 404 if the project does not exist and
    403 for anyone else, as ``dmops.selectors.project_for_member``."""
    with connection.cursor() as cursor:
        cursor.execute(_MEMBER_ROLE_SQL, [user.pk, project_id])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such project.")
    if row[1] is None:
        raise PermissionDenied(NOT_A_MEMBER)
    return row[1]


_BATCH_ITEM_ROLE_SQL = f"""
    SELECT (SELECT m.role FROM {Membership._meta.db_table} m
            WHERE m.project_id = b.project_id AND m.user_id = %s)
    FROM {BatchItem._meta.db_table} bi JOIN {Batch._meta.db_table} b ON b.id = bi.batch_id
    WHERE bi.id = %s
"""  # noqa: S608 — table names come from model metadata, values are parameters


def batch_item_role(user, batch_item_id: int) -> str:
    """The user's role on the batch item's project, in one query; 404 / 403 as
    ``annotation.selectors.labelling.batch_item_for_member``. Plain SQL: the ORM took longer
    to build this statement than PostgreSQL takes to run it."""
    with connection.cursor() as cursor:
        cursor.execute(_BATCH_ITEM_ROLE_SQL, [user.pk, batch_item_id])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such item in any batch.")
    if row[0] is None:
        raise PermissionDenied(NOT_A_MEMBER)
    return row[0]


def lease_on_item(user, lease_id: int, batch_item_id: int) -> Lease:
    """``user``'s lease on the batch item, whose project membership the caller has checked:
    404 if it does not exist, 403 if it is someone else's, 400 if it is for another item (as
    ``annotation.selectors.labelling.lease_on_item``). Only the ids are loaded."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT annotator_id, batch_item_id FROM {Lease._meta.db_table} WHERE id = %s",
            [lease_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such lease.")
    if row[0] != user.pk:
        raise PermissionDenied("This lease is another annotator's.")
    if row[1] != batch_item_id:
        raise ValidationError({"lease": "This lease is for another item."})
    return Lease(pk=lease_id, annotator_id=row[0], batch_item_id=row[1])


@receiver([post_save, post_delete], sender=SchemaVersion)
def _forget_schema_version(sender, instance: SchemaVersion, **kwargs) -> None:
    _final_schemas.pop(instance.pk, None)


@receiver([post_save, post_delete], sender=Label)
def _forget_label_schema(sender, instance: Label, **kwargs) -> None:
    _final_schemas.pop(instance.schema_version_id, None)


def _schema(
    schema_version_id: int | None, version: SchemaVersion | None = None
) -> tuple[dict[str, Any], frozenset[str]] | None:
    if schema_version_id is None:
        return None
    cached = _final_schemas.get(schema_version_id)
    if cached is not None:
        return cached
    if version is None:
        version = SchemaVersion.objects.only("number", "task_type", "question", "is_final").get(
            pk=schema_version_id
        )
    labels = list(Label.objects.filter(schema_version_id=schema_version_id).values(*LABEL_FIELDS))
    schema = (
        {
            "schema_version": version.number,
            "task_type": version.task_type,
            "question": version.question,
            "labels": labels,
        },
        frozenset(label["key"] for label in labels),
    )
    if version.is_final:
        _final_schemas[schema_version_id] = schema
    return schema


def schema_question(schema_version_id: int | None) -> dict[str, Any] | None:
    """The schema version as the labelling screen shows it: number, task type, question and
    labels (``QuestionSerializer``'s shape); None without a schema."""
    schema = _schema(schema_version_id)
    return schema[0] if schema else None


def schema_label_keys(schema_version: SchemaVersion) -> frozenset[str]:
    """The label keys of a schema version; no query once a final version has been read."""
    schema = _schema(schema_version.pk, schema_version)
    return schema[1] if schema else frozenset()


def leased_item(lease_id: int) -> dict[str, Any]:
    """What the labelling screen needs for one leased item, in one query plus the cached
    schema: ``LeasedItemSerializer``'s shape."""
    row = (
        Lease.objects.filter(pk=lease_id)
        .values(
            "pk",
            "expires_at",
            "batch_item_id",
            "batch_item__item_id",
            "batch_item__item__text",
            "batch_item__item__metadata",
            "batch_item__proposed_label",
            "batch_item__batch_id",
            "batch_item__batch__name",
            "batch_item__batch__kind",
            "batch_item__batch__schema_version_id",
        )
        .get()
    )
    return {
        "lease_id": row["pk"],
        "expires_at": _datetime.to_representation(row["expires_at"]),
        "batch_item_id": row["batch_item_id"],
        "item_id": row["batch_item__item_id"],
        "text": row["batch_item__item__text"],
        "metadata": row["batch_item__item__metadata"],
        "proposed_label": row["batch_item__proposed_label"],
        "batch": {
            "id": row["batch_item__batch_id"],
            "name": row["batch_item__batch__name"],
            "kind": row["batch_item__batch__kind"],
        },
        "question": schema_question(row["batch_item__batch__schema_version_id"]),
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
