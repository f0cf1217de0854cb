"""Fixtures shared by the workbench test modules. Modules that define a fixture of the same
name (several have their own ``guideline``) use theirs."""

from __future__ import annotations

import pytest

from annotation.models import GuidelineVersion
from tests.annotation.builders import make_batch, make_items
from tests.conftest import client_for


@pytest.fixture
def guideline(project, manager):
    body = "# Guide\n\n## Task\n\nRead it.\n\n## Claim\n\nA claim needs a source.\n"
    return GuidelineVersion.objects.create(
        project=project, number=1, body=body, change_summary="first", created_by=manager
    )


@pytest.fixture
def binary_batch(project):
    return make_batch(project, make_items(project, 3), overlap=2)


@pytest.fixture
def as_annotator(client, annotator):
    return client_for(client, annotator)
