"""Step 12 releases: the final-label rule, rows, splits, datasheet, gate and pages."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from annotation.models import (
    Annotation,
    Batch,
    BatchItem,
    GuidelineVersion,
    Item,
    Label,
    PreprocessingRun,
    Release,
    ReleaseRow,
    Review,
    SchemaVersion,
    Source,
)
from annotation.selectors.releases import live_row_dicts
from annotation.services import datasheet
from annotation.services.release_build import release_build
from annotation.services.releases import release_create, split_of
from dmops import services as dmops_services
from dmops.errors import DomainError
from dmops.steps import evaluate_checks
from tests.annotation.factories import ItemFactory, SourceFactory
from tests.dmops.factories import COMPLETE_GOAL, UserFactory

LIMITS = "English Wikipedia only; sentences shorter than five words were dropped."


def make_annotated_project(project, manager, *, n_single: int = 30, wiki: bool = True) -> dict:
    """A project whose items cover every branch of the final-label rule.

    ``single``: one judgement each (labels alternate yes/no); ``aggregated``: two judgements
    and an aggregate; ``corrected`` / ``accepted``: reviewed; ``sent_back``: sent back, so
    still its single judgement; ``unresolved``: two judgements, no aggregate; ``inactive``:
    dropped item;
    ``training``: a single judgement in a training batch only (does not count).
    """
    dmops_services.project_update(project=project, by=manager, **COMPLETE_GOAL)
    source = SourceFactory(
        project=project,
        format=Source.Format.MEDIAWIKI_XML if wiki else Source.Format.JSONL,
        origin_url="https://en.wikipedia.org/wiki/Special:Export" if wiki else "",
    )
    schema = SchemaVersion.objects.create(
        project=project, number=1, task_type=SchemaVersion.TaskType.BINARY, is_final=True
    )
    Label.objects.create(schema_version=schema, key="yes", name="Yes")
    Label.objects.create(schema_version=schema, key="no", name="No")
    GuidelineVersion.objects.create(
        project=project, number=1, body="Say yes or no.", change_summary="First"
    )
    main = Batch.objects.create(project=project, name="main", schema_version=schema)
    training = Batch.objects.create(
        project=project, name="qual", kind=Batch.Kind.TRAINING, schema_version=schema
    )
    users = [UserFactory(username=f"ann{i}") for i in range(3)]

    def item(**kw):
        meta = {"page_title": "Moon", "revision_id": "1234"} if wiki else {"k": 1}
        return ItemFactory(source=source, metadata=meta, **kw)

    def judge(it, user, answer, batch=main):
        bi, _ = BatchItem.objects.get_or_create(batch=batch, item=it)
        Annotation.objects.create(
            batch_item=bi, batch=batch, item=it, annotator=user, answer=answer
        )

    groups: dict[str, list[Item]] = {}
    groups["single"] = []
    for i in range(n_single):
        it = item()
        judge(it, users[i % 2], "yes" if i % 2 else "no")
        groups["single"].append(it)
    groups["aggregated"] = []
    for _ in range(3):
        it = item(final_label="yes", final_confidence=0.75, final_rule="aggregated")
        judge(it, users[2], "yes")
        judge(it, users[0], "no")
        groups["aggregated"].append(it)
    corrected, accepted, sent_back = item(), item(), item()
    for it in (corrected, accepted, sent_back):
        judge(it, users[1], "yes")
    now = timezone.now()
    Review.objects.create(
        item=corrected, reason="spot_check", decision="correct", label="no", decided_at=now
    )
    Review.objects.create(
        item=accepted, reason="spot_check", decision="accept", label=None, decided_at=now
    )
    Review.objects.create(item=sent_back, reason="spot_check", decision="send_back", decided_at=now)
    groups.update(corrected=[corrected], accepted=[accepted], sent_back=[sent_back])
    unresolved = item()
    judge(unresolved, users[0], "yes")
    judge(unresolved, users[1], "no")
    inactive = item(is_active=False)
    judge(inactive, users[0], "yes")
    trained = item()
    judge(trained, users[0], "yes", batch=training)
    groups.update(unresolved=[unresolved], inactive=[inactive], training=[trained])
    return {"source": source, "batch": main, "groups": groups, "users": users}


def create_release(project, manager, *, build: bool = True, **kw) -> Release:
    """Ask for a release as the page does and (``build``) run its build job in-process, as
    the on-commit Celery task would; the release comes back as the job left it."""
    kw.setdefault("known_limitations", LIMITS)
    kw.setdefault("seed", "fixed-seed")
    release = release_create(project=project, by=manager, **kw)
    if build:
        release_build(release_id=release.pk)
        release.refresh_from_db()
    return release


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Build jobs write release files under MEDIA_ROOT: keep them in the test's folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def annotated(project, manager):
    return make_annotated_project(project, manager)


# --- the final-label rule --------------------------------------------------------------------


def test_final_label_rule_records_reviewed_aggregated_single(project, manager, annotated):
    release = create_release(project, manager)
    rows = {r.item_id: r for r in ReleaseRow.objects.filter(release=release)}
    g = annotated["groups"]
    assert (rows[g["corrected"][0].pk].label, rows[g["corrected"][0].pk].label_rule) == (
        "no",
        "reviewed",
    )
    accepted = rows[g["accepted"][0].pk]  # accepted a single judgement: confidence unknown
    assert (accepted.label, accepted.label_rule, accepted.confidence) == ("yes", "reviewed", None)
    sent_back = rows[g["sent_back"][0].pk]  # keeps its label until re-aggregated
    assert (sent_back.label, sent_back.label_rule) == ("yes", "single")
    agg = rows[g["aggregated"][0].pk]
    assert (agg.label, agg.label_rule, agg.confidence) == ("yes", "aggregated", 0.75)
    single = rows[g["single"][1].pk]
    assert (single.label, single.label_rule, single.confidence) == ("yes", "single", None)
    for left_out in ("unresolved", "inactive", "training"):
        assert g[left_out][0].pk not in rows, left_out
    assert release.row_count == len(rows) == 30 + 3 + 3


def test_a_review_recorded_by_the_review_service_is_released_as_reviewed(
    project, manager, annotated
):
    from annotation.services.final_labels import review_record

    item = annotated["groups"]["aggregated"][1]
    review_record(
        review=Review.objects.create(item=item, reason="spot_check"), by=manager, decision="accept"
    )
    row = create_release(project, manager).rows.get(item=item)
    assert (row.label, row.label_rule, row.confidence) == ("yes", "reviewed", 0.75)


def test_live_export_rows_follow_the_same_rule(project, manager, annotated):
    release = create_release(project, manager)
    released = {r.item_id: (r.label, r.label_rule) for r in release.rows.all()}
    live = {row["id"]: (row["label"], row["label_rule"]) for row in live_row_dicts(project)}
    assert live == released


def test_release_rows_copy_text_and_metadata(project, manager, annotated):
    release = create_release(project, manager)
    item = annotated["groups"]["single"][0]
    row = release.rows.get(item=item)
    assert row.text == item.text and row.metadata == {"page_title": "Moon", "revision_id": "1234"}
    Item.objects.filter(pk=item.pk).update(text="changed later")
    row.refresh_from_db()
    assert row.text != "changed later"


def test_judgements_are_anonymised_by_first_appearance(project, manager, annotated):
    release = create_release(project, manager, include_judgements=True)
    rows = list(release.rows.order_by("item_id"))
    seen: list[str] = []
    for row in rows:
        for judgement in row.judgements:
            if judgement["annotator"] not in seen:
                seen.append(judgement["annotator"])
    assert seen == [f"a{i}" for i in range(1, len(seen) + 1)]
    agg = release.rows.get(item=annotated["groups"]["aggregated"][0])
    assert [j["label"] for j in agg.judgements] == ["yes", "no"]  # in answer order
    names = {u.username for u in get_user_model().objects.all()}
    assert not names & {j["annotator"] for r in rows for j in r.judgements}


def test_release_without_judgements_stores_none(project, manager, annotated):
    release = create_release(project, manager)
    assert set(release.rows.values_list("judgements", flat=True)) == {None}


# --- splits ----------------------------------------------------------------------------------


def test_splits_are_deterministic_and_match_the_reference(project, manager, annotated):
    first = create_release(project, manager)
    second = create_release(project, manager)
    a = dict(first.rows.values_list("item_id", "split"))
    b = dict(second.rows.values_list("item_id", "split"))
    assert a == b
    assert a == {i: split_of("fixed-seed", i, first.split_ratios) for i in a}
    assert first.split_counts == {s: list(a.values()).count(s) for s in ("train", "dev", "test")}


def test_items_that_stay_keep_their_split(project, manager, annotated):
    v1 = create_release(project, manager, seed="s1")
    before = dict(v1.rows.values_list("item_id", "split"))
    # Items leave, labels change, new items join: the survivors keep their split.
    Item.objects.filter(pk__in=list(before)[:5]).update(is_active=False)
    changed = annotated["groups"]["single"][10]
    Review.objects.create(
        item=changed, reason="model", decision="correct", label="yes", decided_at=timezone.now()
    )
    for _ in range(20):
        it = ItemFactory(source=annotated["source"], final_label="no", final_rule="aggregated")
        assert it.pk not in before
    v2 = create_release(project, manager, seed=None)  # seed inherited
    assert v2.seed == "s1" and v2.number == 2
    after = dict(v2.rows.values_list("item_id", "split"))
    stayed = set(before) & set(after)
    assert len(stayed) == len(before) - 5
    assert all(before[i] == after[i] for i in stayed)
    assert v2.rows.get(item=changed).label == "yes"


def test_split_proportions_hold_within_each_label(project, manager):
    source = SourceFactory(project=project)
    Item.objects.bulk_create(
        Item(
            project=project,
            source=source,
            position=i,
            text=f"t{i}",
            raw_text=f"t{i}",
            text_hash=f"h{i}",
            final_label="yes" if i % 3 else "no",
            final_rule="aggregated",
        )
        for i in range(3000)
    )
    release = create_release(project, manager, ratios={"train": 0.6, "dev": 0.2, "test": 0.2})
    dist = datasheet.label_distribution(release)
    for label in ("yes", "no"):
        total = sum(dist[s].get(label, 0) for s in dist)
        assert abs(dist["train"][label] / total - 0.6) < 0.05
        assert abs(dist["test"][label] / total - 0.2) < 0.05


@pytest.mark.parametrize(
    "ratios", [{"train": 0.5, "dev": 0.1}, {"train": 0, "test": 1}, {"valid": 1.0}]
)
def test_bad_ratios_are_refused(project, manager, annotated, ratios):
    with pytest.raises(DomainError):
        create_release(project, manager, ratios=ratios)


def test_only_managers_create_releases(project, reviewer, annotated):
    with pytest.raises(PermissionDenied):
        create_release(project, reviewer)


def test_nothing_to_release_is_refused(project, manager):
    with pytest.raises(DomainError, match="nothing to release"):
        create_release(project, manager)


def test_filters_by_source_and_batch(project, manager, annotated):
    other = SourceFactory(project=project)
    extra = ItemFactory(source=other, final_label="no", final_rule="aggregated")
    by_source = create_release(project, manager, source_ids=[other.pk])
    assert list(by_source.rows.values_list("item_id", flat=True)) == [extra.pk]
    by_batch = create_release(project, manager, batch_ids=[annotated["batch"].pk])
    assert extra.pk not in set(by_batch.rows.values_list("item_id", flat=True))
    assert by_batch.row_count == 36


# --- datasheet and gate ----------------------------------------------------------------------


def _section(release, key):
    return next(s for s in release.datasheet["sections"] if s["key"] == key)


def test_datasheet_is_complete_from_the_project_record(project, manager, annotated):
    PreprocessingRun.objects.create(
        project=project,
        status=PreprocessingRun.Status.APPLIED,
        config={"dedupe": "exact"},
        report={"total": 50, "kept": 45, "dropped": {"dedupe": 5}, "pii_examples": {"x": []}},
        finished_at=timezone.now(),
    )
    release = create_release(project, manager, include_judgements=True)
    assert datasheet.datasheet_missing(release.datasheet) == []
    sources = _section(release, "sources")["data"]["sources"][0]
    assert sources["licence"] == "cc-by-sa-4.0"
    assert sources["pages"] == [{"page_title": "Moon", "revision_id": "1234", "items": 36}]
    assert "CC BY-SA" in sources["attribution"]
    assert "oldid=1234" in _section(release, "sources")["markdown"]
    pre = _section(release, "preprocessing")["data"]
    assert pre["report"]["kept"] == 45 and "pii_examples" not in pre["report"]
    assert _section(release, "annotators")["data"] == {
        "annotators": 3,
        "judgements": 39,
        "qualification": None,
    }
    dist = _section(release, "label_distribution")["data"]["per_split"]
    assert sum(sum(c.values()) for c in dist.values()) == release.row_count
    markdown = datasheet.datasheet_markdown(release)
    for title in ("Goal", "Sources and licences", "Schema", "Guideline", "Known limitations"):
        assert f"## {title}" in markdown


def test_datasheet_states_the_qualification_rule(project, manager, annotated):
    from annotation.models import QualificationRule, TrainingItem

    QualificationRule.objects.create(project=project, min_correct=4, max_attempts=2)
    for item in annotated["groups"]["single"][:5]:
        TrainingItem.objects.create(project=project, item=item, answer="yes")
    annotators = _section(create_release(project, manager), "annotators")
    assert annotators["data"]["qualification"] == {
        "min_correct": 4,
        "training_items": 5,
        "max_attempts": 2,
    }
    assert "at least 4 of 5 training items" in annotators["markdown"]


def test_empty_mandatory_sections_are_named(project, manager, annotated):
    GuidelineVersion.objects.all().delete()
    release = create_release(project, manager, known_limitations="")
    assert datasheet.datasheet_missing(release.datasheet) == ["Guideline", "Known limitations"]


def test_quality_sections_can_be_registered_from_above(project, manager, annotated):
    def agreement(release):
        return {"alpha": 0.81}, "Krippendorff's alpha 0.81 on the pilot."

    datasheet.register_datasheet_section("test_agreement", "Agreement", agreement)
    try:
        release = create_release(project, manager)
    finally:
        datasheet._SECTIONS.pop("test_agreement")
    assert _section(release, "test_agreement")["data"] == {"alpha": 0.81}


def _gate(project):
    return {o.check.key: o for o in evaluate_checks(project, 12)}["release_datasheet"]


def test_step_12_gate_needs_a_published_release_with_a_full_datasheet(
    project, manager, annotated, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    assert not _gate(project).passed
    with django_capture_on_commit_callbacks(execute=True):
        create_release(project, manager, known_limitations="")
    assert not _gate(project).passed and "Known limitations" in _gate(project).result.detail
    with django_capture_on_commit_callbacks(execute=True):
        create_release(project, manager)
    assert _gate(project).passed


def test_release_numbers_count_up(project, manager, annotated):
    assert [create_release(project, manager).number for _ in range(3)] == [1, 2, 3]
