"""No database-level foreign keys from Item to its project and source (bench/README.md, "Import").

Their per-row checks were a third of PostgreSQL's CPU time in an import. What they guarded is
kept otherwise:

* Django's ``on_delete=CASCADE`` deletes a project's or source's items (it always did: the
  constraints were never ON DELETE CASCADE).
* An import locks its project and source rows (``FOR KEY SHARE``) before it writes and fails if
  they are gone (``annotation.services.sources._write``).
* On PostgreSQL, a deferred trigger on each of the two parent tables refuses to commit the
  deletion of a project or source that still has items: the one case the lock cannot cover is a
  deletion that collected the items to delete before an import committed more. This is the
  parent-side half of the old constraint; the per-row half on every insert is what went.
"""

import django.db.models.deletion
from django.db import migrations, models

_GUARDS = (("dmops_project", "project_id"), ("annotation_source", "source_id"))

_FUNCTION = """
CREATE OR REPLACE FUNCTION annotation_item_orphan_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_ARGV[0] = 'project_id' THEN
        PERFORM 1 FROM annotation_item WHERE project_id = OLD.id LIMIT 1;
    ELSE
        PERFORM 1 FROM annotation_item WHERE source_id = OLD.id LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'annotation_item still has rows with % = %', TG_ARGV[0], OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$
"""


def add_guards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite (development): the ORM's CASCADE and the import's check only
    schema_editor.execute(_FUNCTION, params=None)  # its RAISE has % placeholders
    for table, column in _GUARDS:
        schema_editor.execute(
            f"CREATE CONSTRAINT TRIGGER annotation_item_{column}_guard AFTER DELETE ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION annotation_item_orphan_guard('{column}')"
        )


def remove_guards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in _GUARDS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS annotation_item_{column}_guard ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS annotation_item_orphan_guard()")


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0010_item_indexes"),
        ("dmops", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="item",
            name="project",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="items",
                to="dmops.project",
            ),
        ),
        migrations.AlterField(
            model_name="item",
            name="source",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="items",
                to="annotation.source",
            ),
        ),
        migrations.RunPython(add_guards, remove_guards, elidable=False),
    ]
