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

# Labelling first: next-item and submit are most of the API's traffic, and Django tries the
# patterns in order.
urlpatterns = [
    *labelling.urlpatterns,
    *sources.urlpatterns,
    *preprocessing.urlpatterns,
    *schema.urlpatterns,
    *guideline.urlpatterns,
    *team.urlpatterns,
    *training.urlpatterns,
    *questions.urlpatterns,
    *releases.urlpatterns,
]
