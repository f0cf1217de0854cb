"""Wikipedia parsers: wikitext, MediaWiki XML dumps and rendered text (WikiSQE sentences)."""

from __future__ import annotations

import io
import random
import tracemalloc
from pathlib import Path

import pysbd
import pytest

from annotation.sources import ImportFormatError, ParsedRow, ParseOptions, get_parser, wikitext
from annotation.sources._pysbd_fast import FastEnglish, may_hold_inline_list
from annotation.sources._sentences import SentenceSplitter
from annotation.sources.wikitext import iter_pages

FIXTURES = Path(__file__).parent / "fixtures"


def parse(fmt: str, data: bytes | str, **options: object) -> list[ParsedRow]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    result = list(get_parser(fmt)(io.BytesIO(data), ParseOptions(**options)))  # type: ignore[arg-type]
    assert all(isinstance(row, ParsedRow) for row in result)
    return result  # type: ignore[return-value]


CN = ("citation needed",)


def labelled(rows: list[ParsedRow]) -> list[tuple[str, tuple[str, ...]]]:
    return [(row.text, row.weak_labels) for row in rows]


# --- the article fixture -----------------------------------------------------------------------

EXPECTED_ARTICLE = [
    # lead: infobox (with a {{cn}} in a parameter), IPA, refs with cite templates all dropped
    ("Lorem Town is a town in Examplia.", (), ""),
    ("It lies on the river Ipsum.", ("citation needed",), ""),
    # the image caption's {{cn}} is not prose; {{who}} follows a ref, {{cn}} a named ref
    ("The town was founded in 1201 by monks from Dolor Abbey.", ("who?",), ""),
    ("Its charter was granted later.", ("citation needed",), ""),
    ("Some historians dispute this.", (), ""),
    # {{dead link}} inside the ref tags the sentence the ref follows
    ("In the 14th century the town grew rapidly.", ("dead link",), "History"),
    # <math> removed; {{clarify|reason=...}} after the full stop
    ("The population reached people by 1400.", ("clarification needed",), "History"),
    # "{{dubious}}The mayor": at the start of the next sentence, it tags the previous one
    ("Trade with the Hansa was important.", ("dubious",), "History"),
    ("The mayor was elected annually.", (), "History"),
    # a template before the full stop, after a space
    ("After 1945 the town became an industrial centre.", ("citation needed",), "Modern era"),
    ("The first factory opened in 1950.", (), "Modern era"),
    ("A railway station followed in 1962.", ("citation needed",), "Modern era"),
    # the table (with a {{cn}} in a cell) is gone; {{Dubious}} alone on its line is a banner
    ("The town covers 12 km2 on the left bank.", ("citation needed", "who?"), "Geography"),
    ("Its climate is mild.", (), "Geography"),
    (
        "The old quarter lies north of the river, called Flumen Ipsum in Latin.",
        ("clarification needed",),
        "Geography",
    ),
    # "References" (the list, Reflist), categories and interlanguage links are skipped
]


def test_article_sentences_labels_and_sections() -> None:
    rows = parse("wikitext", (FIXTURES / "article.wiki").read_bytes(), title="Lorem Town")
    assert [(r.text, r.weak_labels, r.metadata["section"]) for r in rows] == EXPECTED_ARTICLE


def test_article_positions_and_ids() -> None:
    rows = parse("wikitext", (FIXTURES / "article.wiki").read_bytes(), title="Lorem Town")
    assert [r.line for r in rows] == list(range(1, len(EXPECTED_ARTICLE) + 1))
    assert rows[0].external_id == "Lorem Town:0"
    assert rows[-1].external_id == f"Lorem Town:{len(EXPECTED_ARTICLE) - 1}"
    assert rows[3].metadata == {
        "page_title": "Lorem Town",
        "section": "",
        "paragraph_index": 1,
        "sentence_index": 3,
    }
    # the two list items are paragraphs of their own
    assert [r.metadata["paragraph_index"] for r in rows[9:12]] == [3, 4, 5]


def test_untitled_article_and_crlf() -> None:
    rows = parse("wikitext", "First claim.{{cn}}\r\nSecond one.\r\n")
    assert labelled(rows) == [("First claim.", ("citation needed",)), ("Second one.", ())]
    assert rows[0].metadata["page_title"] == "untitled"


@pytest.mark.parametrize(
    ("wikitext", "expected"),
    [
        # after the full stop, before the space
        ("Rome is old.{{cn}} Paris is big.", [("Rome is old.", CN), ("Paris is big.", ())]),
        # after the space: still the previous sentence
        ("Rome is old. {{cn}}Paris is big.", [("Rome is old.", CN), ("Paris is big.", ())]),
        ("Rome is old. {{cn}} Paris is big.", [("Rome is old.", CN), ("Paris is big.", ())]),
        # mid-sentence: the sentence containing it
        (
            "Rome is old{{who}}, and Paris is big. Milan too.",
            [("Rome is old, and Paris is big.", ("who?",)), ("Milan too.", ())],
        ),
        # last in the paragraph
        (
            "Rome is old. Paris is big.{{when}}",
            [("Rome is old.", ()), ("Paris is big.", ("when?",))],
        ),
        # after a ref, and several templates in a row, deduplicated
        (
            "Rome is old.<ref>x</ref>{{cn}}{{fact}}{{who}} Milan.",
            [("Rome is old.", ("citation needed", "who?")), ("Milan.", ())],
        ),
        # at the very start of a paragraph there is nothing to tag
        ("{{cn}} Rome is old.", [("Rome is old.", ())]),
        # spelling variants of one template
        ("Rome.{{Citation_needed|date=May 2020}}", [("Rome.", CN)]),
        ("Rome.{{subst:cn}}", [("Rome.", CN)]),
        ("Rome.{{ citation needed }}", [("Rome.", CN)]),
        # {{sic}} is not a cleanup label; it renders as the reader sees it
        ("He wrote teh{{sic}} book.", [("He wrote teh[sic] book.", ())]),
        ("He wrote {{sic|teh}} book.", [("He wrote teh [sic] book.", ())]),
    ],
)
def test_template_attachment(wikitext: str, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert labelled(parse("wikitext", wikitext)) == expected


def test_inline_markup_is_rendered_as_text() -> None:
    wikitext = (
        "'''Bold''' and ''italic'' [[Link target|label]] [[Plain]]s, [[:Category:Visible]] "
        "[http://example.org external text] and [http://example.org] gone, "
        "a&nbsp;b &amp; c<br/>d <sup>2</sup> <!-- comment --> end "
        "{{nowrap|kept}} {{lang-fr|bonjour}} {{convert|5|to|10|km}} {{circa|1200}}."
    )
    assert [r.text for r in parse("wikitext", wikitext)] == [
        "Bold and italic label Plains, Category:Visible external text and gone, "
        "a b & c d 2 end kept bonjour 5 to 10 km circa 1200."
    ]


def test_dropped_constructs() -> None:
    wikitext = "\n".join(
        [
            "{{Infobox person|name=X|birth_date={{birth date|1900|1|1}}{{cn}}}}",
            "[[File:X.jpg|thumb|Caption sentence.{{cn}}]]",
            "[[Image:Y.png|left]] Kept after image.",
            "Paris ({{IPA-fr|paʁi}}) is big.",
            "A <math>x^2</math> formula.<ref name=a/>",
            "<gallery>\nA.jpg|Gallery caption.\n</gallery>",
            "{| class=wikitable\n| Cell sentence. {{cn}}\n|}",
            "<syntaxhighlight lang=python>print('code.')</syntaxhighlight>",
            "{{Navbox|list1=[[A]] [[B]]}}",
            "[[Category:Things]] [[fr:Chose]]",
        ]
    )
    assert labelled(parse("wikitext", wikitext)) == [
        ("Kept after image.", ()),
        ("Paris is big.", ()),
        ("A formula.", ()),
    ]


def test_only_citation_problems_inside_refs_tag_the_sentence() -> None:
    wikitext = (
        "Rome is old.<ref>{{cite web|url=http://x}} {{dead link|date=2020}} {{bare url inline}}"
        "</ref> Paris is big.<ref>Footnote that itself needs one.{{cn}}</ref> Milan."
    )
    assert labelled(parse("wikitext", wikitext)) == [
        ("Rome is old.", ("dead link", "bare url")),
        ("Paris is big.", ()),
        ("Milan.", ()),
    ]


def test_sections_skip_and_subsections() -> None:
    wikitext = (
        "Lead.\n== See also ==\n* [[Other]]\n=== Sub of see also ===\nHidden.\n"
        "== History ==\nShown.\n=== Early ===\nAlso shown.\n== Notes ==\nNote text."
    )
    rows = parse("wikitext", wikitext)
    assert [(r.text, r.metadata["section"]) for r in rows] == [
        ("Lead.", ""),
        ("Shown.", "History"),
        ("Also shown.", "Early"),
    ]
    everything = parse("wikitext", wikitext, skip_sections=frozenset())
    assert "Hidden." in [r.text for r in everything]


def test_min_words() -> None:
    rows = parse("wikitext", "Fine. Two words here. Three more words, then.", min_words=3)
    assert [r.text for r in rows] == ["Two words here.", "Three more words, then."]


def test_wikitext_errors() -> None:
    with pytest.raises(ImportFormatError, match="the file is empty"):
        parse("wikitext", " \n")
    with pytest.raises(ImportFormatError) as info:
        parse("wikitext", b"ok\n\xff\n")
    assert info.value.line == 2 and "byte offset 3" in info.value.message


# --- MediaWiki XML -----------------------------------------------------------------------------

XML = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-{version}/" version="{version}">
  <siteinfo><sitename>Wikipedia</sitename></siteinfo>
  <page>
    <title>Alpha</title><ns>0</ns><id>1</id>
    <revision><id>100</id><timestamp>2020-01-01T00:00:00Z</timestamp>
      <text xml:space="preserve">Old text.{{{{cn}}}}</text></revision>
    <revision><id>101</id><timestamp>2021-01-01T00:00:00Z</timestamp>
      <text xml:space="preserve">Alpha is first.&lt;ref&gt;x&lt;/ref&gt;{{{{who}}}} Second.
== Part ==
Third &amp; last.</text></revision>
  </page>
  <page><title>Talk:Alpha</title><ns>1</ns><id>2</id>
    <revision><id>200</id><text>Talk text.</text></revision></page>
  <page><title>Al</title><ns>0</ns><id>3</id><redirect title="Alpha" />
    <revision><id>300</id><text>#REDIRECT [[Alpha]]</text></revision></page>
  <page><title>Beta</title><ns>0</ns><id>4</id>
    <revision><id>400</id><text>#redirect [[Alpha]] without the element</text></revision></page>
  <page><title>Gamma</title><ns>0</ns><id>5</id>
    <revision><id>500</id><timestamp>2022-01-01T00:00:00Z</timestamp>
      <text>Gamma one. Gamma two.{{{{Clarify}}}}</text></revision></page>
</mediawiki>
"""


@pytest.mark.parametrize("version", ["0.10", "0.11"])
def test_xml_dump(version: str) -> None:
    rows = parse("mediawiki_xml", XML.format(version=version))
    assert [(r.line, r.text, r.weak_labels, r.external_id) for r in rows] == [
        (1, "Alpha is first.", ("who?",), "101:0"),
        (2, "Second.", (), "101:1"),
        (3, "Third & last.", (), "101:2"),
        (4, "Gamma one.", (), "500:0"),
        (5, "Gamma two.", ("clarification needed",), "500:1"),
    ]
    assert rows[2].metadata == {
        "page_title": "Alpha",
        "page_id": "1",
        "revision_id": "101",
        "timestamp": "2021-01-01T00:00:00Z",
        "section": "Part",
        "paragraph_index": 1,
        "sentence_index": 2,
    }


def test_xml_without_namespace() -> None:
    xml = (
        "<mediawiki><page><title>T</title><ns>0</ns>"
        "<revision><text>Hi there.</text></revision></page></mediawiki>"
    )
    rows = parse("mediawiki_xml", xml)
    assert [(r.text, r.external_id, r.metadata["page_id"]) for r in rows] == [
        ("Hi there.", "T:0", "")
    ]


def test_xml_errors() -> None:
    with pytest.raises(ImportFormatError) as info:
        parse("mediawiki_xml", "<mediawiki>\n<page><title>T</title>\n</mediawiki>")
    assert info.value.line == 3
    assert info.value.message.startswith("invalid XML: mismatched tag")
    with pytest.raises(ImportFormatError, match="no records"):
        parse("mediawiki_xml", "<mediawiki></mediawiki>")


def test_xml_memory_stays_flat() -> None:
    page = (
        "<page><title>P{n}</title><ns>0</ns><id>{n}</id><revision><id>{n}</id>"
        "<text>" + "Some sentence here. " * 20 + "</text></revision></page>\n"
    )
    data = (
        "<mediawiki>" + "".join(page.format(n=n) for n in range(5000)) + "</mediawiki>"
    ).encode()
    stream = io.BytesIO(data)
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_pages(stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 5000
    assert peak < len(data) / 4  # nothing like the 2.3 MB of pages stays alive


# --- rendered text -----------------------------------------------------------------------------

RENDERED = "\n".join(
    [
        "Lorem Town is a town in Examplia.[1] It lies on the river Ipsum.[citation needed]",
        "The town was founded by monks.[2][who?] Its charter came later.[3] [citation needed]"
        " A [sic] quote [a] here.",
        "History[edit]",
        "It grew rapidly.[note 1][dubious – discuss] Trade mattered. [clarification needed]"
        "The mayor [and council] ruled.",
        "References[edit]",
        "Smith, J. (1999). Monks.",
    ]
)


@pytest.mark.parametrize("batch_lines", [1, 2, 500])
def test_rendered_markers(batch_lines: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wikitext, "RENDERED_BATCH_LINES", batch_lines)
    rows = parse("rendered_wiki", RENDERED, title="Lorem Town")
    assert [(r.text, r.weak_labels, r.metadata["section"]) for r in rows] == [
        ("Lorem Town is a town in Examplia.", (), ""),
        ("It lies on the river Ipsum.", ("citation needed",), ""),
        ("The town was founded by monks.", ("who?",), ""),
        ("Its charter came later.", ("citation needed",), ""),
        ("A [sic] quote here.", (), ""),
        ("It grew rapidly.", ("dubious",), "History"),
        ("Trade mattered.", ("clarification needed",), "History"),
        ("The mayor [and council] ruled.", (), "History"),
    ]
    assert [r.metadata["source_line"] for r in rows] == [1, 1, 2, 2, 2, 4, 4, 4]
    assert rows[-1].external_id == "Lorem Town:7"
    assert [r.metadata["paragraph_index"] for r in rows] == [0, 0, 1, 1, 1, 2, 2, 2]
    assert [r.line for r in rows] == list(range(1, 9))


# --- sentence splitting ------------------------------------------------------------------------


def test_splitter_drops_wordless_sentences_and_keeps_offsets() -> None:
    splitter = SentenceSplitter()
    text = "Paris is big. ). Rome is old."
    [sentences] = splitter.split_many([(text, [(13, "x"), (17, "y"), (29, "z")])])
    # ")." has no word: dropped, and the marker after it goes to the sentence before
    assert [(s.text, s.start, s.labels) for s in sentences] == [
        ("Paris is big.", 0, ["x", "y"]),
        ("Rome is old.", 17, ["z"]),
    ]


LIST_AND_ABBREVIATION_TOKENS = [
    *("Dr.", "St.", "p.", "pp.", "no.", "No.", "vs.", "etc.", "Inc.", "Co.", "Ltd."),
    *("Jan.", "Mar.", "Mt.", "Mr.", "U.S.", "e.g.", "i.e.", "approx.", "fig.", "vol."),
    *("Gen.", "is", "at", "in", "the", "Paris", "5", "1990", ".", "!", "?", "(Dr."),
    *("St.Paul", "ST.", "p.5", "a.", "b.", "c)", "(a)", "(b)", "ii.", "(iii)", "iv)"),
    *("1.", "2.", "3)", "4)", "-1.", "10.", "11.", "(1)", "2)", "x.", "(v)", "vi.", "\n"),
]


@pytest.mark.parametrize("seed", range(4))
def test_fast_pysbd_matches_pysbd(seed: int) -> None:
    original = pysbd.Segmenter(language="en", clean=False)
    fast = pysbd.Segmenter(language="en", clean=False)
    fast.language_module = FastEnglish
    rng = random.Random(seed)
    for _ in range(150):
        words = rng.choices(LIST_AND_ABBREVIATION_TOKENS, k=rng.randint(3, 30))
        text = " ".join(words)
        assert fast.processor(text).process() == original.processor(text).process(), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It was built in 1950. Then it grew (slowly).", False),
        ("Steps: 1. mix 2. bake.", True),
        ("Options a) red b) blue.", True),
        ("Only (a) one item.", False),
        ("Chapters (i) and (ii) differ.", True),
    ],
)
def test_inline_list_precheck(text: str, expected: bool) -> None:
    assert may_hold_inline_list(text) is expected
