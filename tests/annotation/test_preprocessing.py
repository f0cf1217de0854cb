"""Pure-Python tests for annotation.preprocessing (no Django, no database)."""

from __future__ import annotations

import itertools

import pytest

from annotation.preprocessing import (
    PreprocessingConfig,
    PreprocessingReport,
    charset_sanity,
    dedupe_digest,
    dedupe_key,
    find_pii,
    mask_pii,
    normalise,
    passes_length,
    plan,
    script_share,
    starts_with_capital,
    text_hash,
    word_count,
)

# ------------------------------------------------------------------------------- PII


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Write to john.doe@example.com today.", "john.doe@example.com"),
        ("Mail <a.b-c@sub.example.co.uk>.", "a.b-c@sub.example.co.uk"),
        ("Ana.Pérez+news@correo.example.es!", "Ana.Pérez+news@correo.example.es"),
        ("Ask jane_o'neil@mail.example.org please", "jane_o'neil@mail.example.org"),
        ("Quoted 'x_1@example.io' here", "x_1@example.io"),
    ],
)
def test_email_detected(text: str, value: str) -> None:
    assert [(m.kind, m.value) for m in find_pii(text)] == [("email", value)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Call +1 (555) 123-4567 tomorrow.", "+1 (555) 123-4567"),
        ("Office: +44 20 7946 0958.", "+44 20 7946 0958"),
        ("UK +44 (0)20 7946 0958 ok", "+44 (0)20 7946 0958"),
        ("Berlin +4930123456 ok", "+4930123456"),
        ("Paris +33 1 23 45 67 89 ok", "+33 1 23 45 67 89"),
        ("India +91 98765 43210 ok", "+91 98765 43210"),
        ("Dial 0044 20 7946 0958 from abroad", "0044 20 7946 0958"),
        ("US (555) 123-4567 ok", "(555) 123-4567"),
        ("US 555-123-4567 ok", "555-123-4567"),
        ("US 555.123.4567 ok", "555.123.4567"),
        ("Toll free 1-800-555-0199 ok", "1-800-555-0199"),
        ("London 020 7946 0958 ok", "020 7946 0958"),
        ("Paris 01 23 45 67 89 ok", "01 23 45 67 89"),
        ("Berlin 030 1234567 ok", "030 1234567"),
        ("Berlin 030/1234567 ok", "030/1234567"),
        ("Tel: 5551234567.", "5551234567"),
        ("phone 555-1234", "555-1234"),
        ("Call 555-1234. 2020 was a good year", "555-1234"),
        ("Desk 206.269.0743x9150 ok", "206.269.0743x9150"),
        ("Desk +1-780-563-6083 ext. 77 ok", "+1-780-563-6083 ext. 77"),
        ("Fax (0)20 7946 0958 now", "(0)20 7946 0958"),
    ],
)
def test_phone_detected(text: str, value: str) -> None:
    assert [(m.kind, m.value) for m in find_pii(text)] == [("phone", value)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Visit https://example.com/path?q=1&x=2.", "https://example.com/path?q=1&x=2"),
        ("Plain http://example.org, then", "http://example.org"),
        (
            "See (https://en.wikipedia.org/wiki/Python_(programming_language)).",
            "https://en.wikipedia.org/wiki/Python_(programming_language)",
        ),
        ("Go to www.example.org!", "www.example.org"),
        ("Mirror ftp://files.example.net/pub ok", "ftp://files.example.net/pub"),
        ("Admin http://192.168.1.1:8080/admin ok", "http://192.168.1.1:8080/admin"),
    ],
)
def test_url_detected_whole(text: str, value: str) -> None:
    assert [(m.kind, m.value) for m in find_pii(text)] == [("url", value)]


@pytest.mark.parametrize(
    "value",
    [
        "192.168.0.1",
        "10.0.0.254",
        "8.8.8.8",
        "2001:db8::1",
        "fe80::1ff:fe23:4567:890a",
        "::1",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    ],
)
def test_ip_detected(value: str) -> None:
    matches = find_pii(f"Server {value} answered.")
    assert [(m.kind, m.value) for m in matches] == [("ip", value)]


@pytest.mark.parametrize(
    "text",
    [
        "In 2020 the population was 1,234,567 people.",
        "It happened on 2020-05-01, 1 May 2020, 05/01/2020 and 05.01.2020.",
        "Prices rose 12.5% to $1,299.99 or €1.234.567,89.",
        "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2 and 978 0 306 40615 7.",
        "Python 3.11.7, version 1.2.3, macOS 10.15.7 and 1.2.3.4.5.",
        "The years 1990–1995, 1990-1995 and 1990 1991 1992.",
        "Pi is 3.14159 and e is 2.71828.",
        "The population grew from 10 000 000 to 12 345 678 and 1.000.000.",
        "Scores 10 20 30 40 were recorded.",
        "At 12:30:45 the ratio was 1:2:3; use std::vector and a :: b.",
        "Open 08.30-12.30 and 9.00-17.00 daily.",
        "Coordinates 51.5074, -0.1278 were used.",
        "He was born 12 June 1950 and died 3.4.1999.",
        "The 2019-2020 season, 2019/20, room 101, flight BA 2490, order #12345678.",
        "Card 4111 1111 1111 1111 is too long for a phone.",
        "Barcode 0040078962190 and EAN 4006381333931.",
        "Mobile phones sold 1.5 billion units in 2019.",
        "Bare domains like example.com and user@localhost are left alone.",
    ],
)
def test_ordinary_numbers_left_alone(text: str) -> None:
    assert find_pii(text) == []
    assert mask_pii(text) == (text, {})


def test_mask_pii_placeholders_and_counts() -> None:
    text = "Mail a@example.com or b@example.com, call +44 20 7946 0958, see https://x.org"
    masked, counts = mask_pii(text)
    assert masked == "Mail [EMAIL] or [EMAIL], call [PHONE], see [URL]"
    assert counts == {"email": 2, "phone": 1, "url": 1}


def test_mask_pii_selected_kinds_do_not_corrupt_urls() -> None:
    # Digits inside a URL look like a phone, but the URL claims the span first.
    text = "Order https://shop.example.com/item/555-123-4567 or call 555-123-4567"
    masked, counts = mask_pii(text, kinds=["phone"])
    assert masked == "Order https://shop.example.com/item/555-123-4567 or call [PHONE]"
    assert counts == {"phone": 1}


def test_mask_pii_styles() -> None:
    text = "a@example.com and a@example.com"
    assert mask_pii(text, style="<{kind}>")[0] == "<email> and <email>"
    hashed, _ = mask_pii(text, style="[{KIND}:{hash}]")
    first, second = hashed.split(" and ")
    assert first == second and first.startswith("[EMAIL:") and len(first) == len("[EMAIL:]") + 8
    with pytest.raises(ValueError, match="placeholder style"):
        mask_pii(text, style="[{nope}]")
    with pytest.raises(ValueError, match="unknown PII kinds"):
        mask_pii(text, kinds=["ssn"])


def test_match_offsets() -> None:
    text = "x 10.0.0.1 y"
    (m,) = find_pii(text)
    assert text[m.start : m.end] == m.value == "10.0.0.1"


# ---------------------------------------------------------------------- normalisation


def test_normalise_nfc_and_invisibles() -> None:
    decomposed = "Cafe\u0301"
    assert normalise(decomposed) == "Café"
    assert normalise("a\u200bb\ufeffc\u00adde\x00f") == "abcdef"
    assert normalise("\u200d") == "\u200d"  # ZWJ kept: part of emoji/Indic text


def test_normalise_whitespace() -> None:
    assert normalise("  a\u00a0\u00a0b\t\tc\r\n d \u3000 ") == "a b c d"
    assert normalise("l1  \r\nl2\n\n\n\nl3 ", keep_newlines=True) == "l1\nl2\n\nl3"
    assert normalise("page\x0cbreak") == "page break"


def test_normalise_nfkc_is_opt_in() -> None:
    assert normalise("x² ﬁne") == "x² ﬁne"
    assert normalise("x² ﬁne", nfkc=True) == "x2 fine"


def test_normalise_keeps_quotes_and_case() -> None:
    text = "“Quoted” — ‘single’ … MiXeD"
    assert normalise(text) == text


# ---------------------------------------------------------------------------- dedupe


def test_dedupe_exact_vs_loose() -> None:
    a, b, c = "Hello,  World!", "Hello, World!", "hello world"
    assert text_hash(a) == text_hash(b) != text_hash(c)
    assert text_hash(a, "loose") == text_hash(c, "loose")
    assert dedupe_key("Ｈｅｌｌｏ, “World”!", "loose") == "hello world"
    assert text_hash("5%", "loose") != text_hash("5", "loose")  # symbols matter
    assert len(text_hash(a)) == 32 and len(dedupe_digest(a)) == 16
    with pytest.raises(ValueError, match="unknown dedupe level"):
        dedupe_key(a, "fuzzy")


# --------------------------------------------------------------------------- filters


def test_word_count_and_length() -> None:
    assert word_count("The cat — sat, on 2 mats.") == 6
    assert word_count("   ") == 0
    assert passes_length("one two three", 3, 3)
    assert not passes_length("one two", min_words=3)
    assert not passes_length("one two three four", max_words=3)
    assert passes_length("anything", None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The cat sat.", True),
        ('"The cat sat."', True),
        ("(Él dijo) hola", True),
        ("the cat sat.", False),
        ("1990 was a year.", False),
        ("", False),
        ("ǅemal is a name", True),
    ],
)
def test_starts_with_capital(text: str, expected: bool) -> None:
    assert starts_with_capital(text) is expected


def test_charset_sanity() -> None:
    assert charset_sanity("A perfectly normal sentence.") == []
    assert charset_sanity("Café") == []
    assert charset_sanity("   ") == ["empty"]
    assert "replacement_char" in charset_sanity("Broken \ufffd text here")
    assert "mojibake" in charset_sanity("CafÃ© au lait")
    assert "mojibake" in charset_sanity("It doesnâ€™t work")
    assert "control_chars" in charset_sanity("Bell\x07 here")
    assert charset_sanity("| 12 | 34 | 56 | 78 |") == ["mostly_non_letters"]
    assert charset_sanity("SÃO PAULO is fine") == []


def test_script_share() -> None:
    assert script_share("Hello world") == 1.0
    assert script_share("Привет world", "Cyrillic") == pytest.approx(6 / 11)
    assert script_share("漢字 kanji", "Han") == pytest.approx(2 / 7)
    assert script_share("123 !!") == 0.0


# ---------------------------------------------------------------------------- config


def test_config_round_trip() -> None:
    config = PreprocessingConfig(dedupe="loose", min_words=10, pii_kinds=("email",))
    data = config.to_dict()
    assert data["pii_kinds"] == ["email"]
    assert PreprocessingConfig.from_dict(data) == config
    assert PreprocessingConfig.from_dict({}) == PreprocessingConfig()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dedup": "exact"}, "unknown preprocessing option"),
        ({"dedupe": "fuzzy"}, "dedupe must be one of"),
        ({"pii_action": "delete"}, "pii_action must be one of"),
        ({"pii_kinds": ["email", "ssn"]}, "unknown pii_kinds"),
        ({"pii_kinds": "email"}, "pii_kinds must be a list"),
        ({"min_words": -1}, "min_words must be a non-negative integer"),
        ({"max_words": "10"}, "max_words must be a non-negative integer"),
        ({"min_words": 10, "max_words": 5}, "greater than max_words"),
        ({"normalise": "yes"}, "normalise must be true or false"),
        ({"pii_style": "{oops}"}, "placeholder style"),
        ({"min_letter_share": 2}, "min_letter_share"),
    ],
)
def test_config_validation_errors(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PreprocessingConfig.from_dict(data)


def test_config_from_dict_rejects_non_mapping() -> None:
    with pytest.raises(ValueError, match="must be a mapping"):
        PreprocessingConfig.from_dict(["dedupe"])  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ plan

ITEMS = [
    (1, "The committee met on 2020-05-01 to discuss the annual budget in detail."),
    (2, "The  committee met on 2020-05-01 to discuss the annual budget in detail."),
    (3, "the committee met on 2020-05-01 to discuss the annual budget in detail!"),
    (4, "Too short."),
    (5, "lowercase start but otherwise a perfectly long enough sentence here."),
    (6, "Contact the press office at press@example.org for the full ten word statement."),
    (7, "CafÃ© owners said the new rules would hurt their business this coming year."),
    (8, "   "),
    (9, "Call +44 20 7946 0958 or visit https://example.org/contact for more information now."),
]


def _run(config: PreprocessingConfig, items=ITEMS):
    report = PreprocessingReport()
    decisions = {d.item_id: d for d in plan(items, config, report)}
    return decisions, report


def test_plan_rules_and_report() -> None:
    config = PreprocessingConfig(dedupe="exact", min_words=10, require_capital=True)
    decisions, report = _run(config)
    kept = sorted(i for i, d in decisions.items() if d.keep)
    assert kept == [1, 6, 9]
    assert decisions[2].rule == "duplicate"  # equal to 1 after whitespace normalisation
    assert decisions[3].rule == "capital"
    assert decisions[4].rule == "length"
    assert decisions[5].rule == "capital"
    assert (decisions[7].rule, decisions[7].detail) == ("charset", ("mojibake",))
    assert decisions[8].rule == "empty"
    assert decisions[1].text is None and decisions[1].changes == ()
    assert decisions[6].text == (
        "Contact the press office at [EMAIL] for the full ten word statement."
    )
    assert decisions[6].changes == ("pii_mask",)
    assert decisions[9].pii_counts == {"phone": 1, "url": 1}

    summary = report.to_dict()
    assert summary["total"] == 9 and summary["kept"] == 3
    assert summary["dropped"] == {
        "duplicate": 1,
        "capital": 2,
        "length": 1,
        "charset": 1,
        "empty": 1,
    }
    assert summary["drop_details"] == {"charset:mojibake": 1}
    # Only kept items count as changed: 2 and 8 were normalised, then dropped.
    assert summary["changed"] == {"pii_mask": 2}
    assert summary["pii"] == {
        "email": {"matches": 1, "items": 1},
        "phone": {"matches": 1, "items": 1},
        "url": {"matches": 1, "items": 1},
    }
    (example,) = summary["pii_examples"]["email"]
    assert example["item_id"] == 6
    assert "press@example.org" in example["before"] and "[EMAIL]" in example["after"]
    funnel = {s["rule"]: (s["before"], s["after"]) for s in summary["funnel"]}
    assert funnel["empty"] == (9, 8) and funnel["duplicate"] == (4, 3)
    assert "pii_examples" not in report.to_dict(include_examples=False)


def test_plan_loose_dedupe_and_pii_drop() -> None:
    config = PreprocessingConfig(dedupe="loose", pii_action="drop", drop_bad_charset=False)
    decisions, report = _run(config)
    assert decisions[3].rule == "duplicate"  # differs from 1 only by case and punctuation
    assert decisions[6].rule == "pii" and decisions[6].detail == ("email",)
    assert decisions[9].rule == "pii" and decisions[9].detail == ("phone", "url")
    assert decisions[7].keep  # charset check disabled
    assert report.pii_examples["email"][0]["after"] == "(item dropped)"


def test_plan_no_dedupe_and_no_normalise() -> None:
    config = PreprocessingConfig(normalise=False, dedupe=None, pii_action=None)
    decisions, _ = _run(config)
    assert decisions[2].keep and decisions[2].text is None  # double space left as is
    assert decisions[6].keep and decisions[6].text is None


def test_plan_examples_capped_at_five() -> None:
    items = [(i, f"Mail person{i}@example.com about the report.") for i in range(20)]
    _, report = _run(PreprocessingConfig(), items)
    assert len(report.pii_examples["email"]) == 5
    assert report.pii_matches["email"] == 20


def test_plan_is_streaming_with_external_hashes() -> None:
    seen: set[bytes] = {dedupe_digest("Already in the dataset.")}
    endless = (
        (i, "Already in the dataset." if i == 0 else f"Sentence {i}.") for i in itertools.count()
    )
    first = list(itertools.islice(plan(endless, PreprocessingConfig(), seen_hashes=seen), 3))
    assert [d.keep for d in first] == [False, True, True]
    assert first[0].rule == "duplicate"
    assert len(seen) == 3
