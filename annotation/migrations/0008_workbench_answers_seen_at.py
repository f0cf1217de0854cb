from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0007_release_build_job"),
    ]

    operations = [
        migrations.AddField(
            model_name="annotatorstate",
            name="answers_seen_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
