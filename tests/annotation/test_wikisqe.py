"""The WikiSQE taxonomy: loading, ranking, template and marker mapping, questions."""

from __future__ import annotations

import pytest

from annotation import wikisqe
from annotation.wikisqe import (
    CATEGORIES,
    MARKER_ALIASES,
    TEMPLATE_ALIASES,
    load_taxonomy,
    normalize_template_name,
)

taxonomy = load_taxonomy()


def test_loads_153_labels_in_5_categories() -> None:
    assert len(taxonomy) == 153
    assert taxonomy.categories == CATEGORIES
    assert sum(len(taxonomy.in_category(c)) for c in CATEGORIES) == 153
    assert len({label.name for label in taxonomy}) == 153


def test_label_fields() -> None:
    cn = taxonomy.get("citation needed")
    assert (cn.category, cn.template, cn.frequency) == ("Citation", "Citation needed", 2373911)
    assert taxonomy.get("compared to?").template == "Compared to?"  # %3F unquoted
    assert taxonomy.get("generally unreliable").template == ""
    assert taxonomy.get("generally unreliable").frequency == 0
    assert "who?" in taxonomy and "nonsense" not in taxonomy
    with pytest.raises(KeyError):
        taxonomy.get("nonsense")


def test_top_labels() -> None:
    assert [label.name for label in wikisqe.top_labels(5)] == [
        "citation needed",
        "clarification needed",
        "disambiguation needed",
        "who?",
        "dead link",
    ]
    assert [label.name for label in taxonomy.top_labels(2, category="Disputed claim")] == [
        "dubious",
        "neutrality disputed",
    ]
    assert len(taxonomy.top_labels(1000)) == 153
    assert taxonomy.top_labels(0) == ()


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("cn", "citation needed"),
        ("Citation needed", "citation needed"),
        ("citation_needed", "citation needed"),
        ("Fact", "citation needed"),
        ("cite needed", "citation needed"),
        ("citation-needed", "citation needed"),
        ("Template:Cn", "citation needed"),
        ("subst:cn", "citation needed"),
        ("who", "who?"),
        ("Whom", "who?"),
        ("who?", "who?"),
        ("when", "when?"),
        ("When?", "when?"),
        ("clarify", "clarification needed"),
        ("clarification needed", "clarification needed"),
        ("Clarify span", "clarification needed"),
        ("dubious", "dubious"),
        ("vague", "vague"),
        ("according to whom", "according to whom?"),
        ("by whom", "by whom?"),
        ("which", "which?"),
        ("original research inline", "original research?"),
        ("or?", "original research?"),
        ("failed verification", "failed verification"),
        ("not in citation given", "failed verification"),
        ("dead link", "dead link"),
        ("Dead_link", "dead link"),
        ("unreliable source?", "unreliable source?"),
        ("unreliable source", "unreliable source?"),
        ("better source needed", "better source needed"),
        ("dn", "disambiguation needed"),
        ("update inline", "needs update"),
        ("pov statement", "neutrality disputed"),
        ("disputed inline", "disputed"),
        ("Compared to?", "compared to?"),  # from the TSV's Template:Compared_to%3F
        ("verify inline", "verify"),  # the TSV's own template
        ("request quotation", "need quotation to verify"),
    ],
)
def test_template_names_map_to_labels(name: str, label: str) -> None:
    found = taxonomy.label_for_template(name)
    assert found is not None and found.name == label


@pytest.mark.parametrize(
    "name",
    [
        "sic",  # faithful reproduction, not a cleanup label
        "update",  # article banner
        "as of",  # date template; the cleanup one is {{as of?}}
        "disputed",  # article banner
        "original research",  # article banner
        "coordinates",
        "cite web",
        "Infobox settlement",
        "reflist",
        "",
    ],
)
def test_non_cleanup_templates_map_to_nothing(name: str) -> None:
    assert taxonomy.label_for_template(name) is None


def test_sic_stays_in_the_taxonomy() -> None:
    sic = taxonomy.get("sic")
    assert not sic.is_cleanup
    assert taxonomy.get("citation needed").is_cleanup
    assert taxonomy.label_for_marker("[sic]") is None


def test_alias_tables_point_at_real_labels() -> None:
    names = {label.name for label in taxonomy}
    assert {t for t in TEMPLATE_ALIASES.values() if t is not None} <= names
    assert set(MARKER_ALIASES.values()) <= names
    for alias in TEMPLATE_ALIASES:
        assert alias == normalize_template_name(alias), alias


def test_normalize_template_name() -> None:
    assert normalize_template_name("  Template:Citation_needed ") == "citation needed"
    assert normalize_template_name("safesubst:Dead  link") == "dead link"


def test_find_markers() -> None:
    text = (
        "It was big.[citation needed][who?] In 1990[12] it [dubious – discuss] fell[sic] "
        "[Clarification  needed] and [permanent dead link] [and more]"
    )
    markers = wikisqe.find_markers(text)
    assert [(text[m.start : m.end], m.label.name) for m in markers] == [
        ("[citation needed]", "citation needed"),
        ("[who?]", "who?"),
        ("[dubious – discuss]", "dubious"),
        ("[Clarification  needed]", "clarification needed"),
        ("[permanent dead link]", "dead link"),
    ]


def test_label_for_marker() -> None:
    assert taxonomy.label_for_marker("[citation needed]").name == "citation needed"  # type: ignore[union-attr]
    assert taxonomy.label_for_marker("Who?").name == "who?"  # type: ignore[union-attr]
    assert taxonomy.label_for_marker("[12]") is None


@pytest.mark.parametrize(
    ("label", "question"),
    [
        ("citation needed", "Does this sentence need a citation?"),
        ("clarification needed", "Does this sentence need clarification?"),
        ("who?", "Does this sentence leave unclear who is meant?"),
        ("dubious", "Is the claim in this sentence dubious?"),
        ("vague", "Is this sentence too vague?"),
    ],
)
def test_special_questions(label: str, question: str) -> None:
    assert wikisqe.verification_question(label) == question


def test_every_label_gets_a_closed_question() -> None:
    for label in taxonomy:
        question = taxonomy.verification_question(label)
        assert question.endswith("?"), question
        assert question.split()[0] in {"Does", "Is", "Could", "Should"}, question
        assert "??" not in question and '?"?' not in question.replace('?" unanswered?', "")


def test_top_20_questions_are_hand_written_and_distinct() -> None:
    top = taxonomy.top_labels(20)
    questions = [taxonomy.verification_question(label) for label in top]
    assert all(label.name in wikisqe.SPECIAL_QUESTIONS for label in top)
    assert len(set(questions)) == len(questions)


def test_fallback_questions_by_category() -> None:
    assert (
        taxonomy.verification_question("broken citation")
        == 'Does the sourcing of this sentence have the problem "broken citation"?'
    )
    assert (
        taxonomy.verification_question("which calendar?")
        == 'Does this sentence leave the question "which calendar?" unanswered?'
    )


def test_unknown_label_question_raises() -> None:
    with pytest.raises(ValueError, match="unknown WikiSQE label"):
        wikisqe.verification_question("made up")
