from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0008_workbench_answers_seen_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="schemaversion",
            name="label_scale",
            field=models.CharField(
                choices=[
                    ("nominal", "Nominal (unordered labels)"),
                    ("ordinal", "Ordinal (labels ordered by position)"),
                    ("interval", "Interval (labels carry evenly comparable numeric values)"),
                ],
                default="nominal",
                help_text="Single-label schemas: whether the labels are ordered (for agreement).",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="label",
            name="value",
            field=models.FloatField(blank=True, null=True),
        ),
    ]
