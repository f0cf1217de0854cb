"""Annotation.batch, a copy of batch_item.batch, and one (annotator, batch) index in place of the
annotator's own: an annotator's count in a batch reads one index."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_BACKFILL = """
UPDATE annotation_annotation SET batch_id = (
    SELECT bi.batch_id FROM annotation_batchitem bi WHERE bi.id = annotation_annotation.batch_item_id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("annotation", "0013_training_item_retired_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="annotation",
            name="batch",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="annotation.batch",
            ),
        ),
        migrations.RunSQL(_BACKFILL, migrations.RunSQL.noop, elidable=True),
        migrations.AlterField(
            model_name="annotation",
            name="batch",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="annotation.batch",
            ),
        ),
        migrations.AlterField(
            model_name="annotation",
            name="annotator",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="annotations",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="annotation",
            index=models.Index(fields=["annotator", "batch"], name="annotation_annotator_batch"),
        ),
    ]
