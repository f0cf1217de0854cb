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


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_0019_has_autovacuum_keep_the_queue_tables_clean_and_undoes_it():
    # Without it, dead rows at the head of the queue index pile up until a fifth of the table
    # is dead, and every pick walks them (the migration's docstring has the figures).
    def options() -> dict[str, set[str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, reloptions FROM pg_class "
                "WHERE relname IN ('annotation_batchitem', 'annotation_lease')"
            )
            return {name: set(opts or []) for name, opts in cursor.fetchall()}

    wanted = {
        "autovacuum_vacuum_scale_factor=0",
        "autovacuum_vacuum_threshold=10000",
        "vacuum_index_cleanup=on",
    }
    assert options() == {"annotation_batchitem": wanted, "annotation_lease": wanted}
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("annotation")[0]
    migrate(("annotation", "0018_next_item_function"))
    try:
        assert options() == {"annotation_batchitem": set(), "annotation_lease": set()}
    finally:
        migrate(latest)
