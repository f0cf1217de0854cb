"""Step 4: the WikiSQE preset — all 153 labels in 5 categories, or a subset by frequency,
category or name, each optionally a binary verification question."""

from __future__ import annotations

import pytest

from annotation import wikisqe
from annotation.models import SchemaVersion
from annotation.services import schema as svc
from annotation.services import schema_presets as presets
from dmops.errors import DomainError

pytestmark = pytest.mark.django_db


def test_wikisqe_preset_takes_all_153_labels_in_5_categories(project, manager):
    version = presets.schema_apply_wikisqe(project=project, by=manager, binary=False)
    labels = list(version.labels.all())
    assert version.task_type == "multi" and len(labels) == 153
    assert {label.category for label in labels} == set(wikisqe.CATEGORIES)
    assert len({label.key for label in labels}) == 153
    assert all(svc.KEY_PATTERN.match(label.key) for label in labels)
    assert not any(label.question for label in labels)
    assert svc.schema_version_finalise(version=version, by=manager).is_final


def test_wikisqe_top_20_are_ordered_by_frequency_with_binary_questions(project, manager):
    version = presets.schema_apply_wikisqe(project=project, by=manager, top_n=20, binary=True)
    labels = list(version.labels.order_by("order"))
    expected = wikisqe.top_labels(20)
    assert [label.name for label in labels] == [label.name for label in expected]
    assert labels[0].name == "citation needed" and labels[0].key == "citation-needed"
    frequencies = [wikisqe.load_taxonomy().get(label.name).frequency for label in labels]
    assert frequencies == sorted(frequencies, reverse=True)
    assert version.task_type == "binary"
    assert labels[0].question == "Does this sentence need a citation?"
    assert all(label.question == wikisqe.verification_question(label.name) for label in labels)
    assert "top 20" in version.note
    # Every label asks its own question, so a binary schema may be final without one.
    assert svc.schema_version_finalise(version=version, by=manager).is_final


def test_wikisqe_whole_categories_and_top_n_within_them(project, manager):
    picked = [wikisqe.DISPUTED_CLAIM, wikisqe.OTHER]
    whole = presets.schema_apply_wikisqe(project=project, by=manager, categories=picked)
    assert whole.labels.count() == 20 + 16
    assert set(whole.labels.values_list("category", flat=True)) == set(picked)
    top = presets.schema_apply_wikisqe(project=project, by=manager, categories=picked, top_n=5)
    names = list(top.labels.values_list("name", flat=True))
    pool = sorted(
        (label for label in wikisqe.load_taxonomy() if label.category in picked),
        key=lambda label: (-label.frequency, label.name),
    )
    assert names == [label.name for label in pool[:5]]


def test_wikisqe_chosen_list_of_labels(project, manager):
    version = presets.schema_apply_wikisqe(
        project=project, by=manager, names=["who?", "citation needed", "dubious"]
    )
    assert list(version.labels.values_list("key", flat=True)) == [
        "citation-needed",
        "who",
        "dubious",
    ]


@pytest.mark.parametrize(
    "options,message",
    [
        ({"names": ["not a label"]}, "Not WikiSQE labels: not a label"),
        ({"categories": ["Grammar"]}, "Unknown categories: Grammar"),
        ({"top_n": 0}, "at least 1"),
        ({"names": ["who?"], "top_n": 3}, "either a list of labels"),
        ({"top_n": 1, "binary": False}, "multi-label schema needs at least 2 labels"),
    ],
)
def test_wikisqe_preset_refuses_bad_choices(project, manager, options, message):
    with pytest.raises(DomainError, match=message):
        presets.schema_apply_wikisqe(project=project, by=manager, **options)
    assert not SchemaVersion.objects.filter(project=project).exists()
