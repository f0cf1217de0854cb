"""Fewer indexes on annotation_item, which every imported row pays for (bench/README.md).

* ``project_id`` alone: every query that filters on the project is served as well by the
  composite indexes that start with it (item_unique_text, item_source_order).
* ``item_active`` (project, is_active): nearly every item is active, so it narrows nothing, and
  the queries that filter on it read other columns from the table anyway (EXPLAINed on a
  1 000 000-item project: the plans use item_unique_text or item_source_order instead).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0009_schema_label_scale"),
        ("dmops", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="item",
            name="item_active",
        ),
        # Only the index goes: AlterField would also drop and re-add the foreign key, which
        # re-checks every row of the table under a lock. The name is Django's, on every backend.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "annotation_item_project_id_2466b61c"',
                    reverse_sql='CREATE INDEX "annotation_item_project_id_2466b61c" '
                    'ON "annotation_item" ("project_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="item",
                    name="project",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="dmops.project",
                    ),
                ),
            ],
        ),
    ]
