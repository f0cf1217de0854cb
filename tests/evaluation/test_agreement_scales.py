"""Ordered labels: the schema's label scale (nominal / ordinal / interval) and the report's alpha
at that level, beside the nominal one. Reference values: Krippendorff (2011)'s published example
and the brute-force alpha of test_agreement.py."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Annotation, Batch, Label, SchemaVersion
from annotation.services import labelling
from annotation.services import schema as schema_services
from dmops.errors import DomainError
from evaluation.agreement import (
    agreement_report,
    bootstrap_distributions,
    krippendorff_alpha,
    percentile_interval,
)
from evaluation.selectors import agreement as selectors
from evaluation.services import agreement as services
from tests.evaluation.test_agreement import KRIPPENDORFF_2011, brute_alpha, random_matrix
from tests.evaluation.test_agreement_service import (
    add_annotators,
    label_all,
    make_items,
    publish,
)

FIVE = ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize(
    ("level", "published"), [("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_report_adds_alpha_at_the_scale_level_beside_nominal(level, published):
    values = [1, 2, 3, 4, 5] if level == "ratio" else None
    report = agreement_report(
        KRIPPENDORFF_2011, FIVE, n_resamples=300, seed=3, scale_level=level, values=values
    )
    assert report["krippendorff_alpha"]["value"] == pytest.approx(0.743, abs=5e-4)
    scaled = report["krippendorff_alpha_scale"]
    assert scaled["level"] == level
    assert scaled["value"] == pytest.approx(published, abs=5e-4)
    assert scaled["ci"]["low"] <= scaled["value"] <= scaled["ci"]["high"]
    # Drawn from the same resamples as the other coefficients' intervals.
    _, replicates = bootstrap_distributions(
        KRIPPENDORFF_2011, ["alpha"], 300, 3, level=level, n_categories=5, values=values
    )
    low, high = percentile_interval(replicates["krippendorff_alpha"], 0.95)
    assert (scaled["ci"]["low"], scaled["ci"]["high"]) == pytest.approx((low, high))


def test_no_scale_entry_for_nominal_and_unknown_levels_refused():
    assert "krippendorff_alpha_scale" not in agreement_report(
        KRIPPENDORFF_2011, FIVE, n_resamples=0, scale_level="nominal"
    )
    with pytest.raises(ValueError, match="scale_level"):
        agreement_report(KRIPPENDORFF_2011, FIVE, n_resamples=0, scale_level="likert")


@pytest.mark.parametrize("seed", range(3))
def test_interval_alpha_with_label_values_matches_brute_force(seed):
    m = random_matrix(seed, k=4)
    values = [0.0, 1.0, 2.5, 6.0]
    report = agreement_report(m, list("abcd"), n_resamples=0, scale_level="interval", values=values)
    expected = brute_alpha(m, "interval", values)
    assert report["krippendorff_alpha_scale"]["value"] == pytest.approx(expected, rel=1e-10)


# --- the schema says whether labels are ordered ---------------------------------------------------


def rating_schema(project, manager, scale="ordinal", values=None) -> SchemaVersion:
    labels = [
        {"key": f"r{i + 1}", "name": f"{i + 1} stars", "value": values[i] if values else None}
        for i in range(5)
    ]
    version = schema_services.schema_version_create(
        project=project, by=manager, task_type="single", label_scale=scale, labels=labels
    )
    return schema_services.schema_version_finalise(version=version, by=manager)


@pytest.mark.django_db
def test_scale_for_reads_order_and_values(project, manager):
    ordinal = rating_schema(project, manager)
    assert selectors.scale_for(ordinal) == ("ordinal", None)
    interval = rating_schema(project, manager, "interval", [1, 2, 3, 4, 10])
    assert selectors.scale_for(interval) == ("interval", [1.0, 2.0, 3.0, 4.0, 10.0])
    positions = rating_schema(project, manager, "interval")
    assert selectors.scale_for(positions) == ("interval", None)
    nominal = rating_schema(project, manager, "nominal")
    assert selectors.scale_for(nominal) == (None, None)


@pytest.mark.django_db
def test_scale_rules(project, manager):
    with pytest.raises(DomainError, match="Unknown scale"):
        schema_services.schema_version_create(
            project=project, by=manager, task_type="single", label_scale="likert"
        )
    multi = schema_services.schema_version_create(
        project=project,
        by=manager,
        task_type="multi",
        label_scale="ordinal",
        labels=[{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
    )
    with pytest.raises(DomainError, match="Only single-label"):
        schema_services.schema_version_finalise(version=multi, by=manager)
    half = schema_services.schema_version_create(
        project=project,
        by=manager,
        task_type="single",
        label_scale="interval",
        labels=[{"key": "a", "name": "A", "value": 1}, {"key": "b", "name": "B"}],
    )
    with pytest.raises(DomainError, match="every label a value"):
        schema_services.schema_version_finalise(version=half, by=manager)
    with pytest.raises(DomainError, match="must be a number"):
        schema_services.label_add(version=half, by=manager, key="c", name="C", value="many")
    final = rating_schema(project, manager, "interval", [1, 2, 3, 4, 5])
    copy = schema_services.schema_version_new_from(version=final, by=manager)
    assert copy.label_scale == "interval"
    assert list(copy.labels.values_list("value", flat=True)) == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_scale_in_the_editor_form_and_the_api(client, api, project, manager):
    version = schema_services.schema_version_create(project=project, by=manager, task_type="single")
    client.force_login(manager)
    url = reverse("schema_settings", args=[project.pk, version.number])
    response = client.post(url, {"task_type": "single", "label_scale": "ordinal"})
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.label_scale == "ordinal"
    page = client.get(reverse("schema_version", args=[project.pk, version.number]))
    assert 'name="label_scale"' in page.content.decode()
    api.force_authenticate(manager)
    detail = f"/api/schema-versions/{version.pk}/"
    body = api.patch(
        detail,
        {"label_scale": "interval", "labels": [{"key": "lo", "name": "Low", "value": 1},
                                              {"key": "hi", "name": "High", "value": 3}]},
        format="json",
    ).json()  # fmt: skip
    assert body["label_scale"] == "interval"
    assert [label["value"] for label in body["labels"]] == [1.0, 3.0]
    assert Label.objects.get(schema_version=version, key="hi").value == 3.0


@pytest.mark.django_db
def test_ordinal_pilot_report_gates_on_ordinal_alpha(
    client, project, manager, annotator, django_capture_on_commit_callbacks
):
    rating_schema(project, manager)
    publish(project, manager)
    items = make_items(project, 12)
    other = add_annotators(project, 1)[0]
    labelling.batch_create(
        project=project, by=manager, name="r", items=[i.pk for i in items], overlap=2, is_open=True
    )

    def answer(user, item):
        stars = item.position % 5
        # Near misses only: the other annotator is one star off on every third item.
        if user == other and item.position % 3 == 0:
            stars = min(stars + 1, 4)
        return f"r{stars + 1}"

    label_all(project, [annotator, other], answer)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.agreement_report_request(batch=Batch.objects.get(), by=manager)
    report.refresh_from_db()
    results = report.results
    j = selectors.judgement_matrix(
        Annotation.objects.filter(batch_item__batch=report.batch),
        [f"r{i}" for i in range(1, 6)],
    )
    ordinal = krippendorff_alpha(j.matrix, "ordinal", n_categories=5)
    assert results["krippendorff_alpha_scale"]["value"] == pytest.approx(ordinal)
    assert results["krippendorff_alpha_scale"]["level"] == "ordinal"
    # Near misses cost less on an ordered scale, and the gate reads the ordinal figure.
    assert ordinal > results["krippendorff_alpha"]["value"]
    assert report.alpha == pytest.approx(ordinal)
    report.batch.kind = Batch.Kind.PILOT
    report.batch.save(update_fields=["kind"])
    assert "α (ordinal) = " in selectors.pilot_gate(project).detail
    client.force_login(manager)
    page = client.get(reverse("agreement_report", args=[project.pk, report.pk])).content.decode()
    assert "Krippendorff&#x27;s α (ordinal)" in page or "Krippendorff's α (ordinal)" in page
    assert "Krippendorff&#x27;s α (nominal)" in page or "Krippendorff's α (nominal)" in page
