"""Step 4: schema versions and labels — the rules in the services, the gate, and the REST API
with its permissions. The WikiSQE preset is in test_schema_presets.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from annotation.models import Label, SchemaVersion
from annotation.services import schema as svc
from annotation.services import schema_presets as presets
from dmops import services as dmops_services
from dmops.errors import DomainError, GateNotMet
from dmops.models import StepState

pytestmark = pytest.mark.django_db

CITATION = {"key": "needs-citation", "name": "Needs citation", "hotkey": "c"}
FINE = {"key": "fine", "name": "Fine as it is", "hotkey": "f"}


def draft(project, manager, task_type="single", labels=(CITATION, FINE), **kwargs):
    return svc.schema_version_create(
        project=project, by=manager, task_type=task_type, labels=list(labels), **kwargs
    )


def skip_earlier_steps(project, manager, key):
    for earlier in range(1, key):
        dmops_services.step_skip(
            project=project, key=earlier, by=manager, reason="Covered outside dmops for the test"
        )


# --------------------------------------------------------------------------- versioning


def test_versions_are_numbered_per_project_and_start_as_drafts(project, manager):
    first = draft(project, manager)
    second = svc.schema_version_create(project=project, by=manager, task_type="binary")
    assert (first.number, second.number) == (1, 2)
    assert not first.is_final and not svc.schema_version_is_frozen(first)
    assert list(first.labels.values_list("key", "order")) == [("needs-citation", 1), ("fine", 2)]
    assert second.labels.count() == 0  # an empty draft is built up label by label


def test_final_version_is_frozen_and_every_edit_is_refused(project, manager):
    version = draft(project, manager)
    svc.schema_version_finalise(version=version, by=manager)
    version.refresh_from_db()
    assert version.is_final and version.finalised_by == manager and version.finalised_at
    assert svc.schema_version_is_frozen(version)
    label = version.labels.get(key="fine")
    edits = [
        lambda: svc.schema_version_update(version=version, by=manager, question="Changed?"),
        lambda: svc.label_add(version=version, by=manager, key="new", name="New"),
        lambda: svc.label_update(label=label, by=manager, name="Renamed"),
        lambda: svc.label_delete(label=label, by=manager),
    ]
    for edit in edits:
        with pytest.raises(DomainError, match="frozen, create a new version"):
            edit()
    assert version.labels.count() == 2 and version.labels.get(key="fine").name == "Fine as it is"


def test_new_version_copies_labels_and_the_old_one_stays_as_it_was(project, manager):
    old = draft(
        project,
        manager,
        question="Which fits?",
        labels=[{**CITATION, "positive_examples": ["He was born in 1900."]}, FINE],
    )
    svc.schema_version_finalise(version=old, by=manager)
    new = svc.schema_version_new_from(version=old, by=manager)
    assert new.number == 2 and not new.is_final
    assert (new.task_type, new.question) == (old.task_type, old.question)
    copied = new.labels.get(key="needs-citation")
    assert copied.pk != old.labels.get(key="needs-citation").pk
    assert copied.positive_examples == ["He was born in 1900."] and copied.hotkey == "c"

    svc.label_update(label=copied, by=manager, name="Citation needed")
    svc.label_add(version=new, by=manager, key="dubious", name="Dubious")
    assert sorted(old.labels.values_list("name", flat=True)) == ["Fine as it is", "Needs citation"]
    assert new.labels.count() == 3


def test_finalising_twice_is_refused(project, manager):
    version = draft(project, manager)
    svc.schema_version_finalise(version=version, by=manager)
    with pytest.raises(DomainError, match="already final"):
        svc.schema_version_finalise(version=version, by=manager)


@pytest.mark.parametrize(
    "task_type,labels,message",
    [
        ("single", [CITATION], "single label schema needs at least 2 labels; it has 1"),
        ("multi", [CITATION], "multi-label schema needs at least 2 labels"),
        ("pairwise", [FINE], "pairwise comparison schema needs at least 2 labels"),
        ("binary", [], "binary verification schema needs at least 1 label; it has 0"),
    ],
)
def test_final_version_needs_enough_labels(project, manager, task_type, labels, message):
    version = svc.schema_version_create(project=project, by=manager, task_type=task_type)
    for label in labels:
        svc.label_add(version=version, by=manager, **label)
    with pytest.raises(DomainError, match=message):
        svc.schema_version_finalise(version=version, by=manager)
    version.refresh_from_db()
    assert not version.is_final


def test_binary_schema_needs_a_question_before_it_is_final(project, manager):
    version = draft(project, manager, task_type="binary", labels=[CITATION])
    with pytest.raises(DomainError, match="yes/no question"):
        svc.schema_version_finalise(version=version, by=manager)
    svc.schema_version_update(
        version=version, by=manager, question="Does this sentence need a citation?"
    )
    assert svc.schema_version_finalise(version=version, by=manager).is_final


def test_a_label_set_given_at_once_must_be_complete(project, manager):
    with pytest.raises(DomainError, match="at least 2 labels"):
        draft(project, manager, labels=[CITATION])
    assert not SchemaVersion.objects.filter(project=project).exists()


# --------------------------------------------------------------------------- label rules


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"key": "Needs Citation", "name": "x"}, "slug-like"),
        ({"key": "needs--citation", "name": "x"}, "slug-like"),
        ({"key": "-leading", "name": "x"}, "slug-like"),
        ({"key": "x" * 81, "name": "x"}, "at most 80 characters"),
        ({"key": "", "name": "x"}, "needs a key"),
        ({"key": "ok", "name": "  "}, "needs a display name"),
        ({"key": "ok", "name": "x", "hotkey": "ab"}, "single character"),
        ({"key": "ok", "name": "x", "hotkey": " "}, "single character"),
        ({"key": "ok", "name": "x", "colour": "red"}, "Unknown label fields: colour"),
    ],
)
def test_label_fields_are_validated(project, manager, fields, message):
    version = svc.schema_version_create(project=project, by=manager, task_type="single")
    with pytest.raises(DomainError, match=message):
        svc.label_add(version=version, by=manager, **fields)
    assert version.labels.count() == 0


def test_label_keys_and_hotkeys_are_unique_within_a_version(project, manager):
    version = draft(project, manager)
    with pytest.raises(DomainError, match="'fine' is used twice"):
        svc.label_add(version=version, by=manager, key="fine", name="Another")
    with pytest.raises(DomainError, match="Hotkey 'c' is used by needs-citation and other"):
        svc.label_add(version=version, by=manager, key="other", name="Other", hotkey="C")
    # The same key in another version is fine.
    other = svc.schema_version_create(project=project, by=manager, task_type="single")
    assert svc.label_add(version=other, by=manager, key="fine", name="Fine").pk


def test_editing_a_label_may_keep_its_own_key_and_hotkey(project, manager):
    version = draft(project, manager)
    label = version.labels.get(key="fine")
    svc.label_update(label=label, by=manager, name="Fine", hotkey="F")
    label.refresh_from_db()
    assert (label.name, label.hotkey) == ("Fine", "f")  # hotkeys are stored lower-case
    with pytest.raises(DomainError, match="used by needs-citation"):
        svc.label_update(label=label, by=manager, hotkey="c")


@pytest.mark.parametrize("hotkey", list("ynuszqg") + ["Y"])
def test_binary_schema_refuses_workbench_reserved_hotkeys(project, manager, hotkey):
    version = svc.schema_version_create(project=project, by=manager, task_type="binary")
    with pytest.raises(DomainError, match="reserved by the workbench"):
        svc.label_add(version=version, by=manager, key="cn", name="Citation", hotkey=hotkey)


@pytest.mark.parametrize(
    "task_type, hotkey",
    [(t, k) for t in ("single", "multi") for k in "szqg"] + [("pairwise", k) for k in "szqgabt"],
)
def test_every_task_type_refuses_the_workbench_keys_it_binds(project, manager, task_type, hotkey):
    # The workbench presses the first control with the key: a label there would shadow skip,
    # undo, ask or the guideline panel (and A, B or tie for pairs).
    version = draft(project, manager, task_type=task_type)
    with pytest.raises(DomainError, match=f"{hotkey!r} of third is reserved by the workbench"):
        svc.label_add(version=version, by=manager, key="third", name="Third", hotkey=hotkey)


def test_reserved_keys_are_free_outside_binary_but_switching_to_binary_checks_them(
    project, manager
):
    version = draft(project, manager, labels=[{**CITATION, "hotkey": "y"}, FINE])
    with pytest.raises(DomainError, match="'y' of needs-citation is reserved"):
        svc.schema_version_update(version=version, by=manager, task_type="binary")
    version.refresh_from_db()
    assert version.task_type == "single"


def test_deleting_a_label_closes_the_gap_in_the_order(project, manager):
    version = draft(project, manager, labels=[CITATION, FINE, {"key": "third", "name": "Third"}])
    svc.label_delete(label=version.labels.get(key="needs-citation"), by=manager)
    assert list(version.labels.values_list("key", "order")) == [("fine", 1), ("third", 2)]
    assert svc.label_add(version=version, by=manager, key="fourth", name="Fourth").order == 3


def test_replacing_the_label_set_validates_it_whole(project, manager):
    version = draft(project, manager)
    with pytest.raises(DomainError, match="is used twice"):
        svc.schema_version_update(version=version, by=manager, labels=[FINE, FINE])
    svc.schema_version_update(
        version=version, by=manager, labels=[FINE, {"key": "bad", "name": "Bad", "hotkey": "b"}]
    )
    assert list(version.labels.values_list("key", flat=True)) == ["fine", "bad"]


def test_only_managers_write_the_schema(project, manager, reviewer, annotator):
    version = draft(project, manager)
    for user in (reviewer, annotator):
        with pytest.raises(PermissionDenied):
            svc.schema_version_create(project=project, by=user, task_type="single")
        with pytest.raises(PermissionDenied):
            svc.label_add(version=version, by=user, key="x", name="X")
        with pytest.raises(PermissionDenied):
            svc.schema_version_finalise(version=version, by=user)
        with pytest.raises(PermissionDenied):
            presets.schema_apply_wikisqe(project=project, by=user, top_n=5)


# --------------------------------------------------------------------------- step 4 gate


def test_step_4_signs_off_only_with_a_final_schema(project, manager):
    skip_earlier_steps(project, manager, 4)
    dmops_services.step_start(project=project, key=4, by=manager)
    with pytest.raises(GateNotMet, match="No schema version is final"):
        dmops_services.step_sign_off(project=project, key=4, by=manager)
    version = draft(project, manager)
    with pytest.raises(GateNotMet):
        dmops_services.step_sign_off(project=project, key=4, by=manager)
    svc.schema_version_finalise(version=version, by=manager)
    step = dmops_services.step_sign_off(project=project, key=4, by=manager)
    assert step.status == StepState.Status.DONE


# --------------------------------------------------------------------------- REST API


def as_user(api, user):
    api.force_authenticate(user)
    return api


def api_calls(project, version):
    base, one = (
        f"/api/projects/{project.pk}/schema-versions/",
        f"/api/schema-versions/{version.pk}/",
    )
    return [
        ("get", base, None),
        ("post", base, {"task_type": "binary", "question": "Needs a citation?"}),
        ("post", base + "wikisqe/", {"top_n": 3}),
        ("get", one, None),
        ("patch", one, {"note": "changed"}),
        ("post", one + "finalise/", None),
        ("post", one + "new-version/", None),
    ]


def test_api_permissions_matrix(api, project, personas):
    version = draft(project, personas["manager"])
    for persona, read, write in [
        ("manager", 200, {200, 201}),
        ("reviewer", 200, {403}),
        ("annotator", 200, {403}),
        ("outsider", 403, {403}),
    ]:
        client = as_user(api, personas[persona])
        for method, url, data in api_calls(project, version):
            response = getattr(client, method)(url, data, format="json")
            expected = {read} if method == "get" else write
            assert response.status_code in expected, (persona, method, url, response.content)
            if persona == "outsider":
                assert project.name not in response.content.decode()
            if persona in ("reviewer", "annotator") and method != "get":
                assert "Only a project manager" in response.json()["detail"]
    api.force_authenticate(None)
    for method, url, data in api_calls(project, version):
        assert getattr(api, method)(url, data, format="json").status_code == 401, (method, url)


def test_api_missing_version_is_404(api, manager):
    assert as_user(api, manager).get("/api/schema-versions/999999/").status_code == 404


def test_api_create_with_labels_then_read_nested(api, project, manager):
    client = as_user(api, manager)
    response = client.post(
        f"/api/projects/{project.pk}/schema-versions/",
        {
            "task_type": "single",
            "labels": [
                {**CITATION, "positive_examples": ["Born in 1900.", " "]},
                {**FINE, "description": "Nothing to fix."},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 1 and body["is_frozen"] is False
    assert [label["key"] for label in body["labels"]] == ["needs-citation", "fine"]
    detail = client.get(f"/api/schema-versions/{body['id']}/").json()
    assert detail["labels"][0]["positive_examples"] == ["Born in 1900."]
    listed = client.get(f"/api/projects/{project.pk}/schema-versions/").json()
    assert [v["number"] for v in listed["results"]] == [1]


def test_api_label_rule_violations_are_400_with_the_reason(api, project, manager):
    client = as_user(api, manager)
    url = f"/api/projects/{project.pk}/schema-versions/"
    response = client.post(
        url,
        {"task_type": "binary", "labels": [{"key": "cn", "name": "Citation", "hotkey": "y"}]},
        format="json",
    )
    assert response.status_code == 400 and "reserved" in str(response.json())
    response = client.post(url, {"task_type": "ranking"}, format="json")
    assert response.status_code == 400 and "task_type" in response.json()


def test_api_patch_edits_a_draft_and_refuses_a_frozen_one(api, project, manager):
    client = as_user(api, manager)
    version = draft(project, manager)
    url = f"/api/schema-versions/{version.pk}/"
    response = client.patch(
        url, {"question": "Which fits best?", "labels": [FINE, CITATION]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["question"] == "Which fits best?"
    assert [label["key"] for label in response.json()["labels"]] == ["fine", "needs-citation"]

    finalised = client.post(url + "finalise/")
    assert finalised.status_code == 200 and finalised.json()["is_frozen"] is True
    response = client.patch(url, {"note": "too late"}, format="json")
    assert response.status_code == 400
    assert "frozen, create a new version" in str(response.json())
    copy = client.post(url + "new-version/")
    assert copy.status_code == 201 and copy.json()["number"] == 2
    assert len(copy.json()["labels"]) == 2
    assert client.get(url).json()["is_final"] is True


def test_api_wikisqe_preset(api, project, manager):
    client = as_user(api, manager)
    url = f"/api/projects/{project.pk}/schema-versions/wikisqe/"
    response = client.post(url, {"top_n": 20, "binary": True}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["task_type"] == "binary" and len(body["labels"]) == 20
    assert body["labels"][0]["question"] == "Does this sentence need a citation?"
    response = client.post(url, {"categories": ["Nope"]}, format="json")
    assert response.status_code == 400
    assert Label.objects.filter(schema_version__project=project).count() == 20
