# An empty root, so the agreement and verification areas can each add their own migration.
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations: list = []
