"""Demo content for step 2: one Wikipedia-style article imported through the real service.

Registered with ``dmops.demo.register_demo_seeder`` when this module is imported (from
``AnnotationConfig.ready()``), so ``dmops`` never imports ``annotation``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.files import File

from annotation.models import Source
from annotation.services.sources import source_create_with_upload
from dmops.demo import register_demo_seeder
from dmops.models import Project

DEMO_ARTICLE = Path(__file__).resolve().parent / "data" / "demo_article.wiki"
DEMO_SOURCE_NAME = "Coffeehouse (demo article)"


@register_demo_seeder
def seed_demo_source(project: Project, users: dict) -> None:
    """Add the bundled article as a source; the import runs once the demo is committed."""
    if Source.objects.filter(project=project, name=DEMO_SOURCE_NAME).exists():
        return
    with DEMO_ARTICLE.open("rb") as f:
        source_create_with_upload(
            project=project,
            by=users["maya"],
            uploaded_file=File(f, name=DEMO_ARTICLE.name),
            name=DEMO_SOURCE_NAME,
            format=Source.Format.WIKITEXT,
            licence=Source.Licence.CC_BY_SA_4,
            licence_text=(
                "Text written for the dmops demo in the style of the English Wikipedia "
                "article “Coffeehouse” (https://en.wikipedia.org/wiki/Coffeehouse), with its "
                "inline cleanup templates. Licensed CC BY-SA 4.0, like Wikipedia's text; "
                "attribution: the dmops authors and Wikipedia contributors."
            ),
            origin_url="https://en.wikipedia.org/wiki/Coffeehouse",
            collected_on=dt.date(2026, 1, 15),
            notes="WikiSQE-style sample: sentences carry weak labels from {{citation needed}}, "
            "{{who}}, {{clarify}} and similar templates.",
            options={"title": "Coffeehouse"},
        )
