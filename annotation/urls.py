"""Pages of the annotation app, one module per area under annotation/views/."""

from __future__ import annotations

from annotation.views import guideline, preprocessing, releases, schema, sources

urlpatterns = [
    *sources.urlpatterns,
    *preprocessing.urlpatterns,
    *schema.urlpatterns,
    *guideline.urlpatterns,
    *releases.urlpatterns,
]
