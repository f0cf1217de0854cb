"""Placeholder: replaced by the real pages of this area."""

from __future__ import annotations

from django.http import Http404
from django.urls import path


def _placeholder(request, project_id):
    raise Http404


urlpatterns = [
    path("projects/<int:project_id>/work/", _placeholder, name="workbench"),
]
