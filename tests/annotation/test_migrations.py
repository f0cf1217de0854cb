"""Data migrations on existing rows: what an upgrade does to a database that was in use."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from annotation import queue
from annotation.models import Annotation
from annotation.services import labelling as services
from tests.annotation.builders import make_batch, make_items

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_BATCH_COPY = ("annotation", "0013_training_item_retired_at")


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def test_0014_copies_each_annotations_batch_from_its_batch_item(project, annotator):
    first = make_batch(project, make_items(project, 2, prefix="First"), name="first", priority=2)
    second = make_batch(project, make_items(project, 1, prefix="Second"), name="second")
    while (lease := queue.next_item(project=project, annotator=annotator)) is not None:
        services.annotation_submit(lease=lease, by=annotator, answer="yes")
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("annotation")[0]

    migrate(BEFORE_BATCH_COPY)  # drops the column the rows were written with
    migrate(latest)

    rows = Annotation.objects.order_by("pk").values_list("batch_id", "batch_item__batch_id")
    assert [batch for batch, _ in rows] == [first.pk, first.pk, second.pk]
    assert all(batch == from_item for batch, from_item in rows)
