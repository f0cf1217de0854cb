from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0012_job_heartbeats'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingitem',
            name='retired_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
