"""REST endpoints of the annotation app, one module per area under annotation/api/."""

from __future__ import annotations

from annotation.api import guideline, labelling, preprocessing, releases, schema, sources

urlpatterns = [
    *sources.urlpatterns,
    *preprocessing.urlpatterns,
    *schema.urlpatterns,
    *guideline.urlpatterns,
    *labelling.urlpatterns,
    *releases.urlpatterns,
]
