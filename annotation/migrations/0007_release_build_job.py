from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0006_team_training_questions"),
    ]

    operations = [
        migrations.AddField(
            model_name="release",
            name="progress",
            field=models.PositiveSmallIntegerField(default=0, help_text="Percent of the build."),
        ),
        migrations.AddField(
            model_name="release",
            name="stage",
            field=models.CharField(
                blank=True, help_text="What the build is doing.", max_length=120
            ),
        ),
    ]
