"""Placeholder: replaced by the REST endpoints of this area."""

urlpatterns: list = []
