"""Domain errors raised by services. They subclass Django's ValidationError so forms, the admin
and the API (dmops/api_errors.py) all show the same message."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class DomainError(ValidationError):
    """A rule of the domain refused the operation; the message says which and why."""


class GateNotMet(DomainError):
    def __init__(self, step_key: int, failing: list) -> None:
        self.step_key = step_key
        self.failing = failing
        reasons = "; ".join(f"{o.check.label} — {o.result.detail}" for o in failing)
        super().__init__(f"Step {step_key} cannot be signed off; failing checks: {reasons}")
