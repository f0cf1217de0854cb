"""REST endpoints of the annotation app, one module per area under annotation/api/."""

from __future__ import annotations

from annotation.api import (
    guideline,
    labelling,
    preprocessing,
    questions,
    releases,
    schema,
    sources,
    team,
    training,
)

urlpatterns = [
    *sources.urlpatterns,
    *preprocessing.urlpatterns,
    *schema.urlpatterns,
    *guideline.urlpatterns,
    *team.urlpatterns,
    *training.urlpatterns,
    *labelling.urlpatterns,
    *questions.urlpatterns,
    *releases.urlpatterns,
]
