import django.utils.timezone
from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce


def backfill(apps, schema_editor):
    # A job's last sign of life before this field existed is when it started; without it a
    # job stuck for months would look fresh and wait another timeout to be swept.
    ImportJob = apps.get_model("annotation", "ImportJob")
    Release = apps.get_model("annotation", "Release")
    ImportJob.objects.update(updated_at=Coalesce("finished_at", "started_at", "created_at"))
    Release.objects.update(updated_at=Coalesce("published_at", F("created_at")))


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0011_item_fk_no_db_constraint"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="release",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
