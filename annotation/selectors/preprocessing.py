from __future__ import annotations

from django.db.models import QuerySet

from annotation.models import PreprocessingRun
from dmops.models import Project


def preprocessing_runs(project: Project) -> QuerySet[PreprocessingRun]:
    return PreprocessingRun.objects.filter(project=project).select_related("created_by")
