"""The README's client example, run as written against a live server: a token, the REST
export of a published release, and ``datasets.load_dataset`` on the downloaded files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from annotation.models import Release
from tests.annotation.test_releases import create_release, make_annotated_project

README = Path(settings.BASE_DIR) / "README.md"


def readme_snippet() -> str:
    text = README.read_text()
    section = text[text.index("## Pulling a release into a training pipeline") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.django_db(transaction=True)
def test_the_readme_snippet_loads_a_release_into_datasets(
    live_server, project, manager, settings, tmp_path, monkeypatch
):
    datasets = pytest.importorskip("datasets")
    settings.MEDIA_ROOT = tmp_path / "media"
    make_annotated_project(project, manager)
    release = create_release(project, manager, include_judgements=True)
    assert release.status == Release.Status.PUBLISHED
    token = Token.objects.create(user=manager).key

    code = readme_snippet()
    assert 'BASE, TOKEN, RELEASE = "http://127.0.0.1:8000/api", "…", 1' in code
    code = code.replace(
        'BASE, TOKEN, RELEASE = "http://127.0.0.1:8000/api", "…", 1',
        f'BASE, TOKEN, RELEASE = "{live_server.url}/api", "{token}", {release.pk}',
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README

    dataset = namespace["dataset"]
    assert {name: dataset[name].num_rows for name in dataset} == release.split_counts
    rows = {r.item_id: r for r in release.rows.all()}
    for split in dataset:
        for row in dataset[split]:
            original = rows[row["id"]]
            assert (row["text"], row["label"], row["split"]) == (
                original.text,
                original.label,
                split,
            )
