"""Step 5: publish guideline versions. The highest number is the one annotators read."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max

from annotation.models import GuidelineVersion
from dmops.errors import DomainError
from dmops.models import Project


def normalise_body(body: str) -> str:
    """Line endings and trailing blanks do not make a new version: browsers send CRLF."""
    lines = (body or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n") + "\n"


@transaction.atomic
def guideline_publish(*, project: Project, by, body: str, change_summary: str) -> GuidelineVersion:
    """Publish the next guideline version. Managers only; the body must not be empty, a change
    summary is required, and a body identical to the current version is refused."""
    if not project.is_manager(by):
        raise PermissionDenied("Only a project manager can publish the guideline.")
    errors: dict[str, str] = {}
    body = normalise_body(body)
    if not body.strip():
        errors["body"] = "The guideline is empty."
    summary = (change_summary or "").strip()
    if not summary:
        errors["change_summary"] = "Say what changed in this version."
    if errors:
        raise DomainError(errors)
    # Lock the project row so two managers publishing at once get distinct numbers.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    versions = GuidelineVersion.objects.filter(project=project)
    current = versions.order_by("-number").first()
    if current is not None and normalise_body(current.body) == body:
        raise DomainError(
            {"body": f"Nothing changed since v{current.number}; edit the guideline first."}
        )
    number = (versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return GuidelineVersion.objects.create(
        project=project, number=number, body=body, change_summary=summary, created_by=by
    )
