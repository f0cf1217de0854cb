"""Reads for the annotator workbench. The page is rendered on every answer, so one call builds
everything it shows from a handful of indexed queries (see test_workbench's query bound)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.http import Http404

from annotation import markdown
from annotation.models import (
    Annotation,
    AnnotatorState,
    Batch,
    BatchItem,
    GuidelineVersion,
    Item,
    Label,
    Lease,
    Question,
    SchemaVersion,
)
from annotation.selectors import hot_path
from annotation.selectors import questions as question_selectors
from dmops.db import hot_cursor
from dmops.models import Project

# Remaining items are counted up to this many: an exact count of a million-item batch would
# cost more than the whole rest of the page, and "1 000+ left" tells an annotator as much as
# "10 000+" (counting 10 000 rows took ~2.5 ms of every page and answer on PostgreSQL).
REMAINING_CAP = 1_000
# Neighbouring sentences are looked for this many positions away, so a sentence dropped as a
# duplicate at import leaves no hole in the context.
CONTEXT_REACH = 3
NOTICE_LIMIT = 5


class Mode:
    """Which controls the item gets."""

    BINARY = "binary"
    SINGLE = "single"
    MULTI = "multi"
    PAIRWISE = "pairwise"


@dataclass(frozen=True)
class WikiContext:
    """Where a sentence imported from Wikipedia stands in its article."""

    page_title: str
    section: str
    before: str
    after: str


@dataclass(frozen=True)
class Progress:
    done: int  # this annotator's answers in the batch
    remaining: int  # items of the batch not complete yet, counted up to REMAINING_CAP
    remaining_capped: bool


@dataclass(frozen=True)
class WorkItem:
    """One leased item as the workbench shows it."""

    lease: Lease
    batch_item: BatchItem
    item: Item
    batch: Batch
    schema: SchemaVersion | None
    mode: str
    labels: list[Label]
    label: Label | None  # the label a binary item asks about
    label_key: str
    question: str
    context: WikiContext | None
    pair: tuple[str, str] | None
    progress: Progress
    guideline_section: str  # id of the guideline heading about ``label``, "" if none


@dataclass(frozen=True)
class GuidelinePanel:
    version: GuidelineVersion
    rendered: markdown.Rendered


@dataclass(frozen=True)
class EmptyCounts:
    """What the "nothing left" page tells the annotator."""

    done: int  # their answers in open batches
    open_batches: int
    in_progress: int  # items of open batches still waiting for others, up to REMAINING_CAP


def lease_for_workbench(*, project: Project, user, lease_id: int | None) -> Lease:
    """``user``'s lease in ``project`` with its batch and schema; 404 for any other lease, so
    an id never tells whether someone else's lease exists."""
    lease = (
        Lease.objects.select_related("batch_item__batch__schema_version")
        .filter(pk=lease_id, annotator=user, batch_item__batch__project=project)
        .first()
        if lease_id
        else None
    )
    if lease is None:
        raise Http404("No such lease of yours in this project.")
    return lease


def work_item(*, lease_id: int, user, guideline: GuidelinePanel | None) -> WorkItem:
    """Everything the workbench shows for the leased item."""
    lease = Lease.objects.select_related(
        "batch_item__item", "batch_item__batch__schema_version"
    ).get(pk=lease_id)
    batch_item = lease.batch_item
    batch, item, schema = batch_item.batch, batch_item.item, batch_item.batch.schema_version
    labels = hot_path.schema_labels(schema) if schema else []
    mode = _mode(schema, batch_item.proposed_label)
    label_key = batch_item.proposed_label
    if not label_key and mode == Mode.BINARY and len(labels) == 1:
        label_key = labels[0].key
    label = next((each for each in labels if each.key == label_key), None)
    question = (label.question if label else "") or (schema.question if schema else "")
    return WorkItem(
        lease=lease,
        batch_item=batch_item,
        item=item,
        batch=batch,
        schema=schema,
        mode=mode,
        labels=labels,
        label=label,
        label_key=label_key,
        question=question,
        context=wiki_context(item),
        pair=_pair(item) if mode == Mode.PAIRWISE else None,
        progress=batch_progress(batch, user),
        guideline_section=guideline_section(guideline, label) if guideline and label else "",
    )


def _mode(schema: SchemaVersion | None, proposed_label: str) -> str:
    # A proposed label makes any item a yes/no question, as answer_validate rules.
    if proposed_label or schema is None:
        return Mode.BINARY
    return {
        SchemaVersion.TaskType.SINGLE: Mode.SINGLE,
        SchemaVersion.TaskType.MULTI: Mode.MULTI,
        SchemaVersion.TaskType.PAIRWISE: Mode.PAIRWISE,
    }.get(schema.task_type, Mode.BINARY)


def _pair(item: Item) -> tuple[str, str] | None:
    meta = item.metadata if isinstance(item.metadata, dict) else {}
    for a, b in (("a", "b"), ("text_a", "text_b")):
        if isinstance(meta.get(a), str) and isinstance(meta.get(b), str):
            return meta[a], meta[b]
    return None


def wiki_context(item: Item) -> WikiContext | None:
    """The article, section and neighbouring sentences of an item imported from Wikipedia
    (annotation/sources/wikitext.py numbers a page's sentences consecutively in
    ``Item.position`` and stores ``page_title`` and ``section`` in the metadata)."""
    meta = item.metadata if isinstance(item.metadata, dict) else {}
    title = meta.get("page_title")
    if not title or "sentence_index" not in meta:
        return None
    neighbours = (
        Item.objects.filter(
            project_id=item.project_id,
            source_id=item.source_id,
            position__gte=item.position - CONTEXT_REACH,
            position__lte=item.position + CONTEXT_REACH,
        )
        .exclude(pk=item.pk)
        .order_by("position")
        .values_list("position", "text", "metadata")
    )
    same_page = [(p, text) for p, text, m in neighbours if (m or {}).get("page_title") == title]
    before = [text for p, text in same_page if p < item.position]
    after = [text for p, text in same_page if p > item.position]
    return WikiContext(
        page_title=str(title),
        section=str(meta.get("section") or ""),
        before=before[-1] if before else "",
        after=after[0] if after else "",
    )


# Both counts of the progress line in one prepared statement: it runs on every page and answer.
# The ORDER BY is the queue index's (batchitem_queue), which holds open items only: without it
# the plan walked the batch's plain index past every completed item.
_PROGRESS_SQL = f"""
    SELECT (SELECT COUNT(*) FROM {Annotation._meta.db_table}
            WHERE batch_id = %(batch)s AND annotator_id = %(user)s),
           (SELECT COUNT(*) FROM (SELECT 1 FROM {BatchItem._meta.db_table}
            WHERE batch_id = %(batch)s AND NOT is_complete AND NOT is_dropped
            ORDER BY priority DESC, id LIMIT %(cap)s) open_items)
"""  # noqa: S608 — table names come from model metadata, values are parameters


def batch_progress(batch: Batch, user) -> Progress:
    with hot_cursor() as cursor:
        cursor.execute(
            _PROGRESS_SQL, {"batch": batch.pk, "user": user.pk, "cap": REMAINING_CAP + 1}
        )
        done, remaining = cursor.fetchone()
    return Progress(done, min(remaining, REMAINING_CAP), remaining > REMAINING_CAP)


def _capped_count(queryset) -> int:
    return queryset.order_by()[: REMAINING_CAP + 1].count()


@lru_cache(maxsize=32)
def _render(body: str) -> markdown.Rendered:
    # Published versions never change, so their rendering is kept; keyed by the text itself.
    return markdown.render(body)


def guideline_panel(project: Project) -> GuidelinePanel | None:
    """The current guideline version, rendered like the guideline page."""
    version = (
        GuidelineVersion.objects.filter(project=project)
        .only("pk", "number", "body", "project_id")
        .order_by("-number")
        .first()
    )
    return GuidelinePanel(version, _render(version.body)) if version else None


def _flatten(headings: list[markdown.Heading]) -> list[markdown.Heading]:
    flat: list[markdown.Heading] = []
    for heading in headings:
        flat += [heading, *_flatten(heading.children)]
    return flat


def guideline_section(panel: GuidelinePanel, label: Label) -> str:
    """The id of the first heading that names the label (by name, else by key), or ""."""
    headings = _flatten(panel.rendered.toc)
    name = label.name.casefold()
    key = re.compile(rf"\b{re.escape(label.key.casefold())}\b")
    for matches in (
        lambda text: text == name,
        lambda text: name in text,
        lambda text: bool(key.search(text)),
    ):
        for heading in headings:
            if matches(heading.name.casefold()):
                return heading.id
    return ""


def unseen_answers(*, project: Project, user, state: AnnotatorState | None) -> list[Question]:
    """Answers ``user`` has not seen: to their own questions (until they mark them seen, see
    the question log's ``unseen_answers``) and answers promoted into the guideline since they
    last did, or since they joined."""
    news = question_selectors.unseen_answers(project, user)
    since: datetime | None = state and (state.answers_seen_at or state.joined_at)
    if since is not None:
        news = news | Question.objects.filter(
            project=project, status=Question.Status.PROMOTED, promoted_to__created_at__gt=since
        ).exclude(asked_by=user)
    # Nearly always there is nothing new. This check has one join; the listing has five
    # (its related rows), and on PostgreSQL planning them took ~4 ms of every page.
    if not news.exists():
        return []
    return list(news.select_related("promoted_to").order_by("-answered_at", "-pk")[:NOTICE_LIMIT])


def empty_counts(*, project: Project, user) -> EmptyCounts:
    open_batches = Batch.objects.filter(project=project, is_open=True)
    return EmptyCounts(
        done=Annotation.objects.filter(
            annotator=user, batch_item__batch__in=open_batches.values("pk")
        ).count(),
        open_batches=open_batches.count(),
        in_progress=_capped_count(
            BatchItem.objects.filter(
                batch__in=open_batches.values("pk"), is_complete=False, is_dropped=False
            )
        ),
    )
