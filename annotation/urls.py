"""Pages of the annotation app, one module per area under annotation/views/."""

from __future__ import annotations

from annotation.views import (
    batches,
    guideline,
    preprocessing,
    questions,
    releases,
    schema,
    sources,
    team,
    training,
    workbench,
)

urlpatterns = [
    *sources.urlpatterns,
    *preprocessing.urlpatterns,
    *schema.urlpatterns,
    *guideline.urlpatterns,
    *team.urlpatterns,
    *training.urlpatterns,
    *batches.urlpatterns,
    *workbench.urlpatterns,
    *questions.urlpatterns,
    *releases.urlpatterns,
]
