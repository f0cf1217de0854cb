"""Step 7: the guideline section an annotator is shown after a training answer, found by its
heading (pure functions, no database)."""

from __future__ import annotations

from annotation import guideline_sections
from tests.annotation.test_training import GUIDELINE


def test_section_runs_to_the_next_heading_of_the_same_level():
    found = guideline_sections.section(GUIDELINE, "Claim")
    assert found.heading == "Claim" and found.level == 2
    assert "A **claim** states a fact" in found.markdown
    assert "### Examples" in found.markdown and "1652" in found.markdown
    assert "Opinion" not in found.markdown


def test_subsection_stops_at_a_higher_heading():
    found = guideline_sections.section(GUIDELINE, "examples")
    assert found.markdown.startswith("### Examples")
    assert "1652" in found.markdown and "## Opinion" not in found.markdown


def test_headings_inside_code_fences_are_not_sections():
    found = guideline_sections.section(GUIDELINE, "Opinion")
    assert "## Not a heading" in found.markdown  # part of the Opinion section, not its end
    assert guideline_sections.section(GUIDELINE, "Not a heading: inside a code block") is None


def test_setext_headings_and_loose_matching():
    found = guideline_sections.section(GUIDELINE, "  NUMBERS: ")
    assert found.level == 2 and "Years and counts." in found.markdown
    top = guideline_sections.section(GUIDELINE, "citation guideline")
    assert top.level == 1 and "Years and counts." in top.markdown  # the whole document


def test_missing_or_empty_heading_is_none():
    assert guideline_sections.section(GUIDELINE, "Sarcasm") is None
    assert guideline_sections.section(GUIDELINE, "") is None
    assert guideline_sections.section("", "Claim") is None


def test_headings_lists_levels_in_order():
    found = [(h.level, h.text) for h in guideline_sections.headings(GUIDELINE)]
    assert found == [
        (1, "Citation guideline"),
        (2, "Claim"),
        (3, "Examples"),
        (2, "Opinion"),
        (2, "Numbers"),
    ]
