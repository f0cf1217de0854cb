"""A release's datasheet, generated from the project's own record, section by section.

Sections come from a registry, as gate checks do in ``dmops.steps``: annotation registers the
core ones below; apps above it (evaluation: agreement figures, model verification) contribute
*quality sections* with :func:`register_datasheet_section` from their ``AppConfig.ready()``,
since annotation cannot import them. A section function takes the release and returns
``(data, markdown)``, or ``None`` when it has nothing to say (the section is then empty).

Mandatory sections — goal, sources, schema, guideline, label distribution per split, known
limitations, and whatever the apps above declare (evaluation: agreement, when the project ran
a pilot) — must not be empty for the step 12 gate to pass (annotation/gates.py). A section's
``mandatory`` may be a function of the release, decided when the datasheet is built and
stored with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.db.models import Count
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from annotation.models import (
    Annotation,
    Batch,
    GuidelineVersion,
    PreprocessingRun,
    QualificationRule,
    ReleaseRow,
    SchemaVersion,
    Source,
    TrainingItem,
)

if TYPE_CHECKING:
    from annotation.models import Release

SectionResult = tuple[dict[str, Any], str] | None
SectionFn = Callable[["Release"], SectionResult]
Mandatory = bool | Callable[["Release"], bool]
MAX_ATTRIBUTED_PAGES = 500  # per source in the datasheet; every row's metadata keeps its own
WIKI_FORMATS = {Source.Format.WIKITEXT, Source.Format.MEDIAWIKI_XML, Source.Format.RENDERED_WIKI}


@dataclass(frozen=True)
class DatasheetSection:
    key: str
    title: str
    fn: SectionFn
    mandatory: Mandatory = False

    def is_mandatory(self, release: Release) -> bool:
        return self.mandatory(release) if callable(self.mandatory) else self.mandatory


_SECTIONS: dict[str, DatasheetSection] = {}


def register_datasheet_section(
    key: str,
    title: str,
    fn: SectionFn,
    *,
    mandatory: Mandatory = False,
    before: str | None = None,
):
    """Add (or replace, if ``key`` exists) a datasheet section, at the end or just before the
    section ``before``; returns ``fn``."""
    section = DatasheetSection(key, title, fn, mandatory)
    _SECTIONS.pop(key, None)
    if before is None or before not in _SECTIONS:
        _SECTIONS[key] = section
        return fn
    ordered: dict[str, DatasheetSection] = {}
    for existing_key, existing in _SECTIONS.items():
        if existing_key == before:
            ordered[key] = section
        ordered[existing_key] = existing
    _SECTIONS.clear()
    _SECTIONS.update(ordered)
    return fn


def sections() -> list[DatasheetSection]:
    return list(_SECTIONS.values())


def datasheet_build(release: Release) -> dict[str, Any]:
    """Every registered section for ``release``, in registration order, as JSON-ready data."""
    out = []
    for section in sections():
        result = section.fn(release)
        data, markdown = result if result else ({}, "")
        out.append(
            {
                "key": section.key,
                "title": section.title,
                "mandatory": section.is_mandatory(release),
                "empty": not markdown.strip(),
                "data": data,
                "markdown": markdown,
            }
        )
    return {"generated_at": timezone.now().isoformat(), "sections": out}


def datasheet_missing(datasheet: dict[str, Any], release: Release | None = None) -> list[str]:
    """Titles of the mandatory sections that are empty, or absent (a datasheet built before
    the section existed; one mandatory only for some releases counts when ``release`` is
    given)."""
    present = {s["key"]: s for s in datasheet.get("sections", [])}
    missing = [s["title"] for s in datasheet.get("sections", []) if s["mandatory"] and s["empty"]]
    for section in sections():
        if section.key in present:
            continue
        if section.is_mandatory(release) if release is not None else section.mandatory is True:
            missing.append(section.title)
    return missing


def datasheet_markdown(release: Release) -> str:
    """The stored datasheet as one Markdown document."""
    lines = [f"# Datasheet: {release.project.name} v{release.number}", ""]
    for section in release.datasheet.get("sections", []):
        lines += [f"## {section['title']}", "", section["markdown"].strip() or "_Not recorded._"]
        lines.append("")
    return "\n".join(lines)


# --- core sections ---------------------------------------------------------------------------


def _goal(release: Release) -> SectionResult:
    p = release.project
    fields = {
        "business_need": p.goal_business_need,
        "intended_use": p.goal_intended_use,
        "target_size": p.goal_target_size,
        "success_metric": p.goal_success_metric,
        "deadline": p.goal_deadline.isoformat() if p.goal_deadline else None,
    }
    if not (p.goal_business_need.strip() or p.goal_intended_use.strip()):
        return None
    md = "\n".join(
        f"- **{name.replace('_', ' ').capitalize()}:** {value}"
        for name, value in fields.items()
        if value not in (None, "")
    )
    return fields, md


def _wiki_link(source: Source, revision: str | None) -> str:
    host = urlsplit(source.origin_url).netloc
    if revision and host.endswith("wikipedia.org"):
        return f"https://{host}/w/index.php?oldid={revision}"
    return ""


def _sources(release: Release) -> SectionResult:
    counts = dict(
        ReleaseRow.objects.filter(release=release)
        .values_list("item__source_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    if not counts:
        return None
    data, md = [], []
    for source in Source.objects.filter(pk__in=counts).order_by("pk"):
        entry = {
            "name": source.name,
            "items": counts[source.pk],
            "licence": source.licence,
            "licence_name": source.get_licence_display(),
            "licence_text": source.licence_text,
            "origin_url": source.origin_url,
            "format": source.format,
        }
        md.append(
            f"- **{source.name}** — {counts[source.pk]} items; licence: "
            f"{source.get_licence_display()}"
            + (f" ({source.licence_text})" if source.licence_text else "")
            + (f"; from {source.origin_url}" if source.origin_url else "")
        )
        if source.format in WIKI_FORMATS or source.licence == Source.Licence.CC_BY_SA_4:
            pages = list(
                ReleaseRow.objects.filter(release=release, item__source=source)
                .filter(metadata__has_key="page_title")
                .values(
                    page_title=KeyTextTransform("page_title", "metadata"),
                    revision_id=KeyTextTransform("revision_id", "metadata"),
                )
                .annotate(items=Count("id"))
                .order_by("page_title", "revision_id")[: MAX_ATTRIBUTED_PAGES + 1]
            )
            if pages:
                entry["pages"] = pages[:MAX_ATTRIBUTED_PAGES]
                entry["pages_truncated"] = len(pages) > MAX_ATTRIBUTED_PAGES
                entry["attribution"] = (
                    "Text from Wikipedia, by Wikipedia contributors, under CC BY-SA 4.0 "
                    "(https://creativecommons.org/licenses/by-sa/4.0/); each row's metadata "
                    "keeps its page title and revision id."
                )
                md.append(f"  - Attribution: {entry['attribution']}")
                for page in entry["pages"]:
                    link = _wiki_link(source, page["revision_id"])
                    md.append(
                        f"  - “{page['page_title']}”, revision {page['revision_id'] or '—'}"
                        f" ({page['items']} items)" + (f" {link}" if link else "")
                    )
                if entry["pages_truncated"]:
                    md.append(f"  - … more pages (first {MAX_ATTRIBUTED_PAGES} listed)")
        data.append(entry)
    return {"sources": data}, "\n".join(md)


def _preprocessing(release: Release) -> SectionResult:
    run = (
        PreprocessingRun.objects.filter(
            project=release.project, status=PreprocessingRun.Status.APPLIED
        )
        .order_by("-finished_at", "-pk")
        .first()
    )
    if run is None:
        return None
    # The stored report may hold raw PII examples: never copy them into a datasheet.
    report = {k: v for k, v in run.report.items() if k != "pii_examples"}
    data = {"run": run.pk, "config": run.config, "report": report}
    md = [f"Run {run.pk}, applied {run.finished_at:%Y-%m-%d}." if run.finished_at else ""]
    md.append(f"- **Rules:** `{json.dumps(run.config, sort_keys=True)}`")
    md.append(f"- **Items:** {report.get('total', 0)} in, {report.get('kept', 0)} kept")
    for rule, n in sorted((report.get("dropped") or {}).items()):
        md.append(f"- Dropped by {rule}: {n}")
    for change, n in sorted((report.get("changed") or {}).items()):
        md.append(f"- Changed by {change}: {n}")
    for kind, counts in sorted((report.get("pii") or {}).items()):
        md.append(f"- PII {kind}: {counts.get('matches')} matches in {counts.get('items')} items")
    return data, "\n".join(line for line in md if line)


def _schema(release: Release) -> SectionResult:
    schema = (
        SchemaVersion.objects.filter(project=release.project)
        .order_by("-is_final", "-number")
        .prefetch_related("labels")
        .first()
    )
    if schema is None:
        return None
    labels = [
        {"key": lab.key, "name": lab.name, "description": lab.description}
        for lab in schema.labels.all()
    ]
    data = {
        "version": schema.number,
        "is_final": schema.is_final,
        "task_type": schema.task_type,
        "question": schema.question,
        "labels": labels,
    }
    md = [f"Schema v{schema.number} ({schema.get_task_type_display()}"]
    md[0] += ", final)." if schema.is_final else ", draft)."
    if schema.question:
        md.append(f"Question: {schema.question}")
    md += [f"- `{lab['key']}` — {lab['name']}: {lab['description']}".rstrip(": ") for lab in labels]
    return data, "\n".join(md)


def _guideline(release: Release) -> SectionResult:
    guideline = GuidelineVersion.objects.filter(project=release.project).order_by("-number").first()
    if guideline is None:
        return None
    data = {
        "version": guideline.number,
        "published": guideline.created_at.isoformat(),
        "change_summary": guideline.change_summary,
    }
    md = f"Guideline v{guideline.number}, published {guideline.created_at:%Y-%m-%d}: "
    return data, md + guideline.change_summary


def _annotators(release: Release) -> SectionResult:
    rows = ReleaseRow.objects.filter(release=release).values("item_id")
    stats = (
        Annotation.objects.filter(item_id__in=rows)
        .exclude(batch_item__batch__kind=Batch.Kind.TRAINING)
        .aggregate(annotators=Count("annotator", distinct=True), judgements=Count("id"))
    )
    if not stats["judgements"]:
        return None
    md = f"{stats['annotators']} annotators gave {stats['judgements']} judgements."
    rule = QualificationRule.objects.filter(project=release.project).first()
    if rule is None:
        stats["qualification"] = None
        md += " No qualification rule: every annotator could label without training."
    else:
        training = TrainingItem.objects.active().filter(project=release.project).count()
        stats["qualification"] = {
            "min_correct": rule.min_correct,
            "training_items": training,
            "max_attempts": rule.max_attempts,
        }
        attempts = f"{rule.max_attempts} attempts" if rule.max_attempts else "unlimited attempts"
        md += (
            f" Qualification: at least {rule.min_correct} of {training} training items "
            f"answered correctly ({attempts}) before labelling."
        )
    return stats, md


def label_distribution(release: Release) -> dict[str, dict[str, int]]:
    """``{split: {label (JSON for lists): count}}``, from one grouped query."""
    out: dict[str, dict[str, int]] = {}
    grouped = (
        ReleaseRow.objects.filter(release=release)
        .values_list("split", "label")
        .annotate(n=Count("id"))
        .order_by()
    )
    for split, label, n in grouped:
        key = label if isinstance(label, str) else json.dumps(label)
        out.setdefault(split, {})
        out[split][key] = out[split].get(key, 0) + n
    return out


def _distribution(release: Release) -> SectionResult:
    dist = label_distribution(release)
    if not dist:
        return None
    rules = dict(
        ReleaseRow.objects.filter(release=release)
        .values_list("label_rule")
        .annotate(n=Count("id"))
        .order_by()
    )
    splits = [s for s in ("train", "dev", "test") if s in dist]
    labels = sorted({label for counts in dist.values() for label in counts})
    md = ["| label | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    for label in labels:
        md.append(f"| {label} | " + " | ".join(str(dist[s].get(label, 0)) for s in splits) + " |")
    md.append("| **total** | " + " | ".join(str(sum(dist[s].values())) for s in splits) + " |")
    md += ["", "Final-label rule: " + ", ".join(f"{k} {v}" for k, v in sorted(rules.items()))]
    ratios = ", ".join(f"{k} {v}" for k, v in release.split_ratios.items())
    md.append(f"Split ratios {ratios}; seeded hash of the item id (stable across releases).")
    return {"per_split": dist, "rules": rules, "ratios": release.split_ratios}, "\n".join(md)


def _limitations(release: Release) -> SectionResult:
    text = release.known_limitations.strip()
    return ({"text": text}, text) if text else None


register_datasheet_section("goal", "Goal", _goal, mandatory=True)
register_datasheet_section("sources", "Sources and licences", _sources, mandatory=True)
register_datasheet_section("preprocessing", "Pre-processing", _preprocessing)
register_datasheet_section("schema", "Schema", _schema, mandatory=True)
register_datasheet_section("guideline", "Guideline", _guideline, mandatory=True)
register_datasheet_section("annotators", "Annotators", _annotators)
register_datasheet_section(
    "label_distribution", "Label distribution per split", _distribution, mandatory=True
)
register_datasheet_section("limitations", "Known limitations", _limitations, mandatory=True)
