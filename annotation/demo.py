"""Demo content: one Wikipedia-style article imported through the real service (step 2), then
a schema, a guideline, training and batches over its sentences (steps 4–8).

Registered with ``dmops.demo.register_demo_seeder`` when this module is imported (from
``AnnotationConfig.ready()``), so ``dmops`` never imports ``annotation``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.files import File
from django.db import transaction

from annotation.models import Batch, Item, Source
from annotation.services.guideline import guideline_publish
from annotation.services.labelling import batch_create
from annotation.services.schema import schema_version_finalise
from annotation.services.schema_presets import schema_apply_wikisqe, wikisqe_key
from annotation.services.sources import source_create_with_upload
from annotation.services.training import qualification_rule_set, training_items_set
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
    # Runs after the import's own on-commit job (callbacks run in order), which Celery runs
    # in-process when no broker is configured, so the sentences exist by then.
    transaction.on_commit(lambda: seed_demo_labelling(project, users))


DEMO_GUIDELINE_INTRO = """# Verifying inline cleanup labels

Each item is one sentence of a Wikipedia article with a label that an editor's inline cleanup
template suggests (WikiSQE). Answer the question on the screen: **Yes** when the sentence
really has the problem the label names, **No** when it does not, **Unsure** when you cannot
tell from the sentence and its neighbours. Judge the sentence as written, not the topic.
"""

# Guideline sections for the labels the demo article carries; other labels get a generic one.
DEMO_LABEL_GUIDANCE = {
    "citation needed": "The sentence states a fact a reader could doubt, and no source backs "
    "it. Common knowledge and sentences whose source is cited right after do not need one.",
    "who?": 'The sentence attributes a view to unnamed people ("some scholars", "critics"). '
    "Answer yes when the reader cannot tell who holds it.",
    "when?": "The sentence describes an event or change without saying when it happened, and "
    "the time matters to the claim.",
    "clarify": "The sentence is hard to understand or ambiguous: a reader cannot tell what it "
    "claims.",
    "dubious": "The sentence makes a claim that is likely to be false or is disputed by sources.",
    "vague": 'The sentence uses words too imprecise to be checked ("much more", "many").',
}


def _proposed_key(item: Item) -> str:
    """The label a demo item asks about: its first weak label, else "citation needed"."""
    return wikisqe_key(item.weak_labels[0] if item.weak_labels else "citation needed")


def _demo_guideline(names: list[str]) -> str:
    generic = "Answer yes when the sentence has the problem this label names."
    sections = [f"## {name}\n\n{DEMO_LABEL_GUIDANCE.get(name, generic)}\n" for name in names]
    return DEMO_GUIDELINE_INTRO + "\n" + "\n".join(sections)


def seed_demo_labelling(project: Project, users: dict) -> None:
    """Steps 4–8 of the demo: a binary-verification schema over the article's labels, a
    guideline, ten training items with an 8-of-10 pass rule, an open pilot batch every
    annotator labels and a main batch kept closed until the pilot's agreement passes."""
    maya = users["maya"]
    items = list(Item.objects.filter(project=project, is_active=True).order_by("pk"))
    if len(items) < 21:
        return  # A real broker runs the import later; set up labelling by hand then.
    names = sorted({name for item in items for name in item.weak_labels} | {"citation needed"})
    schema = schema_apply_wikisqe(project=project, by=maya, names=names, binary=True)
    schema_version_finalise(version=schema, by=maya)
    guideline_publish(
        project=project, by=maya, body=_demo_guideline(names), change_summary="First version."
    )
    training, pilot, main = items[:10], items[10:20], items[20:]
    training_items_set(
        project=project,
        by=maya,
        entries=[
            {
                "item_id": item.pk,
                "proposed_label": _proposed_key(item),
                "answer": "yes" if item.weak_labels else "no",
                "explanation": "An editor tagged this sentence."
                if item.weak_labels
                else "No editor tagged this sentence, and it needs no source.",
                "guideline_section": item.weak_labels[0] if item.weak_labels else "",
            }
            for item in training
        ],
    )
    qualification_rule_set(project=project, by=maya, min_correct=8, max_attempts=3)
    for kind, name, chosen, overlap, is_open in (
        (Batch.Kind.PILOT, "Pilot", pilot, 2, True),
        (Batch.Kind.MAIN, "Main", main, 1, False),
    ):
        batch_create(
            project=project,
            by=maya,
            name=name,
            kind=kind,
            items=[item.pk for item in chosen],
            overlap=overlap,
            proposed_labels={item.pk: _proposed_key(item) for item in chosen},
            is_open=is_open,
        )
