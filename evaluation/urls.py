"""Pages of the evaluation app, one module per area under evaluation/views/."""

from __future__ import annotations

from evaluation.views import agreement, review, verification

urlpatterns = [
    *agreement.urlpatterns,
    *review.urlpatterns,
    *verification.urlpatterns,
]
