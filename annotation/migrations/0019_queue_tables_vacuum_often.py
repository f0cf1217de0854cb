"""The queue's tables are vacuumed after 10 000 dead rows, not after a fifth of the table.

Every judgement leaves dead row versions in ``annotation_batchitem`` (the counter) and
``annotation_lease`` (the state), and an item that fills up leaves a dead entry at the head of
the ``batchitem_queue`` index, which every pick then walks past. PostgreSQL's default waits for
20 % of a table to be dead before it vacuums (about 220 000 rows for the bench's 1.1 million
batch items), so between vacuums the walk grows with every item labelled. Under load on the bench project, a
pick read 720 buffers after four minutes and the queue served 1 237–1 380 judgements/s; one
``VACUUM`` of the two tables (under a second) brought it back to 20 buffers and 1 811–1 993/s
(bench/README.md, "Queue", session 9). With these settings autovacuum keeps up by itself.

``vacuum_index_cleanup = on``: a vacuum may skip the indexes when few heap pages hold dead rows,
which is the usual case here (the dead rows sit at the head), and the index is what the pick
walks. PostgreSQL only; SQLite has nothing of the kind.
"""

from django.db import migrations

TABLES = ("annotation_batchitem", "annotation_lease")
SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0",
    "autovacuum_vacuum_threshold": "10000",
    "vacuum_index_cleanup": "on",
}


def vacuum_often(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        options = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET ({options})")


def vacuum_by_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} RESET ({', '.join(SETTINGS)})")


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0018_next_item_function"),
    ]

    operations = [migrations.RunPython(vacuum_often, vacuum_by_default)]
