"""REST endpoints of the evaluation app, one module per area under evaluation/api/."""

from __future__ import annotations

from evaluation.api import agreement, review, verification

urlpatterns = [
    *agreement.urlpatterns,
    *review.urlpatterns,
    *verification.urlpatterns,
]
