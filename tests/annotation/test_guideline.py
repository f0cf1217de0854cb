"""Step 5: safe Markdown, publishing guideline versions, diffs, the skeleton from the schema,
the gate, and the REST API with its permissions."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.core.exceptions import PermissionDenied

from annotation.markdown import render, render_markdown
from annotation.selectors import guideline as sel
from annotation.services import guideline as svc
from annotation.services import schema as schema_svc
from annotation.services import schema_presets as presets
from dmops import services as dmops_services
from dmops.errors import DomainError, GateNotMet
from dmops.models import StepState

pytestmark = pytest.mark.django_db


class Elements(HTMLParser):
    """Every element and attribute that a browser would build from the HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def final_schema(project, manager, labels=None):
    version = schema_svc.schema_version_create(
        project=project,
        by=manager,
        task_type="single",
        labels=labels
        or [
            {
                "key": "needs-citation",
                "name": "Needs citation",
                "description": "A claim with no source.",
                "positive_examples": ["Paris has 3 million cats."],
                "negative_examples": ["Paris is the capital of France.[1]"],
            },
            {"key": "fine", "name": "Fine as it is", "hotkey": "f"},
        ],
    )
    return schema_svc.schema_version_finalise(version=version, by=manager)


# --------------------------------------------------------------------------- markdown


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert('x')</script>",
        "Inline <script>alert('x')</script> in a paragraph.",
        "<img src=x onerror=alert(1)>",
        '<a href="#" onclick="steal()">click</a>',
        "<div onmouseover='x()'>hover</div>\n\n<iframe src=https://evil.example></iframe>",
        "<style>body{display:none}</style>",
        "[click](javascript:alert(1))",
        "[click](JavaScript:alert(document.cookie))",
        "[click]( javascript:alert(1) )",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        "[ref]: javascript:alert(1)\n\nSee [the ref][ref].",
        "<svg><script>alert(1)</script></svg>",
    ],
)
def test_markdown_drops_scripts_handlers_and_unsafe_links(source):
    html = render_markdown(source)
    elements = Elements(html).tags
    assert not any(tag in {"script", "style", "iframe", "svg"} for tag, _ in elements), html
    for _tag, attrs in elements:
        assert not any(name.startswith("on") for name in attrs), html
        for name in ("href", "src"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "data:")), html


def test_raw_html_is_shown_as_text_not_markup():
    html = render_markdown("Use <b>bold</b> sparingly & <script>x()</script>.")
    assert "<b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;script&gt;" in html and "&amp;" in html


def test_markdown_keeps_ordinary_formatting_and_safe_links():
    html = render_markdown(
        "## Needs citation\n\n**Bold**, *em*, `code`, [Wikipedia](https://en.wikipedia.org)."
        "\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    assert '<h2 id="sec-needs-citation">Needs citation</h2>' in html
    assert "<strong>Bold</strong>" in html and "<em>em</em>" in html and "<code>code" in html
    assert 'href="https://en.wikipedia.org"' in html and 'rel="noopener noreferrer"' in html
    assert "<ul>" in html and "<table>" in html


def test_table_of_contents_lists_label_sections():
    rendered = render("# Guide\n\n## Needs citation\n\n## who?\n\n### Edge cases\n\n## who?\n")
    (top,) = rendered.toc
    assert top.name == "Guide"
    assert [(h.name, h.id) for h in top.children] == [
        ("Needs citation", "sec-needs-citation"),
        ("who?", "sec-who"),
        ("who?", "sec-who_1"),
    ]
    assert [h.name for h in top.children[1].children] == ["Edge cases"]


# --------------------------------------------------------------------------- publishing


def test_publish_numbers_versions_and_the_highest_is_current(project, manager):
    first = svc.guideline_publish(project=project, by=manager, body="# v1\n", change_summary="A")
    second = svc.guideline_publish(project=project, by=manager, body="# v2\n", change_summary="B")
    assert (first.number, second.number) == (1, 2)
    assert sel.current_guideline(project) == second
    assert [v.number for v in sel.guideline_versions(project)] == [2, 1]


@pytest.mark.parametrize(
    "body,summary,message",
    [
        ("# Guide", "  ", "Say what changed"),
        ("  \n ", "Start", "The guideline is empty"),
    ],
)
def test_publish_needs_a_body_and_a_change_summary(project, manager, body, summary, message):
    with pytest.raises(DomainError, match=message):
        svc.guideline_publish(project=project, by=manager, body=body, change_summary=summary)
    assert sel.current_guideline(project) is None


def test_publishing_an_unchanged_body_is_refused(project, manager):
    svc.guideline_publish(project=project, by=manager, body="# Guide\nText\n", change_summary="A")
    # The browser sends CRLF and maybe trailing spaces: still the same text.
    with pytest.raises(DomainError, match="Nothing changed since v1"):
        svc.guideline_publish(
            project=project, by=manager, body="# Guide  \r\nText\r\n\r\n", change_summary="Again"
        )
    assert sel.current_guideline(project).number == 1


def test_only_managers_publish(project, reviewer, annotator):
    for user in (reviewer, annotator):
        with pytest.raises(PermissionDenied):
            svc.guideline_publish(project=project, by=user, body="# G", change_summary="x")


def test_diff_pairs_lines_side_by_side(project, manager):
    a = svc.guideline_publish(
        project=project, by=manager, body="one\ntwo\nthree\nfour\n", change_summary="A"
    )
    b = svc.guideline_publish(
        project=project, by=manager, body="one\nTWO\nthree\nfive\nsix\n", change_summary="B"
    )
    rows = [(r.kind, r.left_no, r.left, r.right_no, r.right) for r in sel.guideline_diff(a, b)]
    assert rows == [
        ("equal", 1, "one", 1, "one"),
        ("replace", 2, "two", 2, "TWO"),
        ("equal", 3, "three", 3, "three"),
        ("replace", 4, "four", 4, "five"),
        ("insert", None, None, 5, "six"),
    ]
    assert "-two\n+TWO" in sel.guideline_unified_diff(a, b)


def test_skeleton_has_one_section_per_label_of_the_final_schema(project, manager):
    schema_svc.schema_version_create(project=project, by=manager, task_type="binary")  # draft v1
    final_schema(project, manager)  # v2, final
    schema_svc.schema_version_create(project=project, by=manager, task_type="multi")  # draft v3
    skeleton = sel.guideline_skeleton(project)
    assert "## Needs citation\n" in skeleton and "## Fine as it is\n" in skeleton
    assert "A claim with no source." in skeleton
    assert "- Paris has 3 million cats." in skeleton
    assert "- Paris is the capital of France.[1]" in skeleton
    assert "hotkey: `f`" in skeleton
    coverage = sel.guideline_coverage(project, skeleton)
    assert coverage.schema.number == 2 and coverage.missing == [] and coverage.complete


def test_skeleton_falls_back_to_the_latest_draft(project, manager):
    presets.schema_apply_wikisqe(project=project, by=manager, top_n=3)
    skeleton = sel.guideline_skeleton(project)
    assert "## citation needed" in skeleton
    assert "Question: **Does this sentence need a citation?**" in skeleton
    coverage = sel.guideline_coverage(project, "only citation needed here")
    assert coverage.missing == ["clarification needed", "disambiguation needed"]
    assert not coverage.complete


# --------------------------------------------------------------------------- step 5 gate


def test_step_5_signs_off_once_the_guideline_covers_every_final_label(project, manager):
    for key in (1, 2, 3):
        dmops_services.step_skip(project=project, key=key, by=manager, reason="Not in this test")
    final_schema(project, manager)
    dmops_services.step_start(project=project, key=4, by=manager)
    dmops_services.step_sign_off(project=project, key=4, by=manager)
    dmops_services.step_start(project=project, key=5, by=manager)
    with pytest.raises(GateNotMet, match="No guideline version is published"):
        dmops_services.step_sign_off(project=project, key=5, by=manager)

    svc.guideline_publish(
        project=project, by=manager, body="## Needs citation\n\nWhen unsourced.", change_summary="1"
    )
    with pytest.raises(GateNotMet, match="never mentions: Fine as it is"):
        dmops_services.step_sign_off(project=project, key=5, by=manager)

    svc.guideline_publish(
        project=project, by=manager, body=sel.guideline_skeleton(project), change_summary="All"
    )
    step = dmops_services.step_sign_off(project=project, key=5, by=manager)
    assert step.status == StepState.Status.DONE


# --------------------------------------------------------------------------- REST API


def as_user(api, user):
    api.force_authenticate(user)
    return api


def api_calls(project, version):
    base = f"/api/projects/{project.pk}/guideline-versions/"
    return [
        ("get", base, None),
        ("post", base, {"body": "# Changed guideline", "change_summary": "API edit"}),
        ("get", f"/api/guideline-versions/{version.pk}/", None),
        ("get", base + "diff/?a=1&b=1", None),
    ]


def test_api_permissions_matrix(api, project, personas):
    version = svc.guideline_publish(
        project=project, by=personas["manager"], body="# Guide", change_summary="First"
    )
    for persona, read, write in [
        ("manager", 200, 201),
        ("reviewer", 200, 403),
        ("annotator", 200, 403),
        ("outsider", 403, 403),
    ]:
        client = as_user(api, personas[persona])
        for method, url, data in api_calls(project, version):
            response = getattr(client, method)(url, data, format="json")
            expected = read if method == "get" else write
            assert response.status_code == expected, (persona, method, url, response.content)
            if persona == "outsider":
                assert "Guide" not in response.content.decode()
    api.force_authenticate(None)
    for method, url, data in api_calls(project, version):
        assert getattr(api, method)(url, data, format="json").status_code == 401, (method, url)


def test_api_publish_read_and_diff(api, project, manager):
    final_schema(project, manager)
    client = as_user(api, manager)
    base = f"/api/projects/{project.pk}/guideline-versions/"
    first = client.post(
        base,
        {"body": "## Needs citation\n\n<script>x()</script>", "change_summary": "Start"},
        format="json",
    )
    assert first.status_code == 201, first.content
    assert first.json()["missing_labels"] == ["Fine as it is"]
    second = client.post(
        base,
        {"body": "## Needs citation\n\n## Fine as it is\n", "change_summary": "Cover all"},
        format="json",
    )
    assert second.status_code == 201 and second.json()["missing_labels"] == []

    detail = client.get(f"/api/guideline-versions/{first.json()['id']}/").json()
    assert detail["body"].startswith("## Needs citation")
    assert "<script>" not in detail["html"] and "&lt;script&gt;" in detail["html"]
    assert [v["number"] for v in client.get(base).json()["results"]] == [2, 1]

    diff = client.get(base + "diff/?a=1&b=2").json()
    assert (diff["a"], diff["b"]) == (1, 2)
    kinds = {row["kind"] for row in diff["rows"]}
    assert "equal" in kinds and kinds & {"replace", "insert"}
    assert "+## Fine as it is" in diff["unified"]
    # The condensed spelling without the slash is redirected, query string kept.
    response = client.get(base + "diff?a=1&b=2", follow=True)
    assert response.status_code == 200 and response.json()["b"] == 2


def test_api_refusals_are_400_or_404(api, project, manager):
    client = as_user(api, manager)
    base = f"/api/projects/{project.pk}/guideline-versions/"
    assert (
        client.post(base, {"body": "# G", "change_summary": ""}, format="json").status_code == 400
    )
    client.post(base, {"body": "# G", "change_summary": "First"}, format="json")
    unchanged = client.post(base, {"body": "# G", "change_summary": "Again"}, format="json")
    assert unchanged.status_code == 400 and "Nothing changed" in str(unchanged.json())
    assert client.get(base + "diff/?a=1").status_code == 400
    assert client.get(base + "diff/?a=1&b=9").status_code == 404
    assert client.get("/api/guideline-versions/999999/").status_code == 404
