"""PII detection and masking: emails, phone numbers, URLs, IPv4/IPv6 addresses.

Precision matters as much as recall here: a corpus is full of years, dates, amounts,
versions and ISBNs, and masking those would damage the data. So:

* URLs need an explicit ``http://``, ``https://``, ``ftp://`` or ``www.``; bare domains
  ("example.com") are left alone. Trailing sentence punctuation and unbalanced closing
  brackets are not part of the URL.
* IPv4 means four dot-separated octets <= 255 not embedded in a longer dotted number
  ("1.2.3" and "1.2.3.4.5" are not IPs; "3.11.7.1" is, unavoidably). IPv6 candidates are
  confirmed with :mod:`ipaddress`.
* Phone numbers need phone-like *structure*, never just length:
  - ``+`` or ``00`` country prefix, 8-15 digits, confirmed as a possible number for that
    country by ``phonenumbers`` (Apache-2.0) when it is installed;
  - a parenthesised area code, "(555) 123-4567";
  - three or more digit groups joined by space/dot/hyphen, 7-15 digits, that are not a
    date (2020-05-01, 05.01.2020), thousands grouping (10 000 000, 612.345.678) or a list
    of years;
  - two groups with a trunk prefix 0 ("030 1234567", "020/79460958");
  - any 7-15 digit run right after a word like "tel", "phone", "call", "fax";
  - an extension ("x89", "ext. 12") is part of the number.
  Unseparated national numbers ("02079460958") are not caught without a phone word:
  they cannot be told from IDs, barcodes and ISBN-10s.
  Space- or dot-separated 3-3-3 groups ("612 345 678") read as a number, not a phone,
  unless a phone word precedes them.
* When matches overlap, url > email > ip > phone, so a URL containing an IP or digits is
  masked as one URL. Detection always considers every kind so that masking only phones
  never corrupts a URL that happens to contain digits.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

try:  # optional: validates international candidates against per-country number lengths
    import phonenumbers as _phonenumbers
except ImportError:  # pragma: no cover - exercised only where the package is absent
    _phonenumbers = None

__all__ = ["PII_KINDS", "PiiMatch", "apply_masks", "find_pii", "mask_pii"]

PII_KINDS = ("email", "phone", "url", "ip")
_PRIORITY = {"url": 0, "email": 1, "ip": 2, "phone": 3}


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One detected span: ``text[start:end] == value``."""

    kind: str
    start: int
    end: int
    value: str


# ----------------------------------------------------------------------------- patterns

_EMAIL_RE = re.compile(
    r"(?<![\w.+\-])\w(?:[\w.%+\-']*\w)?@(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}(?![\w\-])"
)
_URL_RE = re.compile(r"(?i)(?<![\w@])(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+")
_URL_TRAILING = ".,;:!?'\"»”’…"
_BRACKETS = {")": "(", "]": "[", "}": "{"}

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4_RE = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\.?\d|\w)")
_IPV4_HINT_RE = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")  # cheap pre-filter
_IPV6_RE = re.compile(
    r"(?i)(?<![\w:.])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])"
)

_SEP = r"[ \u00a0.\-]"
_LEFT = r"(?<![\w+\-./])"  # not inside a longer token (ISBN parts, decimals, versions)
_RIGHT = r"(?![\w\-/]|[.,]\d)"
# Bare digit groups must be the whole run: "978 0 306 40615 7" (an ISBN) must not yield
# "0 306 40615" just because the full run is not phone-shaped.
_LEFT_RUN = _LEFT + r"(?<!\d[ \u00a0])"
_RIGHT_RUN = _RIGHT + r"(?![ \u00a0.\-]\d)"
# Optional extension: "555-123-4567 x89", "ext. 12".
_EXT = r"(?:[ \u00a0]?(?:x|ext\.?|extn\.?)[ \u00a0]?\d{1,6})?"
# Separators are mandatory after the first block so a digit run splits only one way
# (no backtracking blow-up on long numbers).
_PHONE_INTL_RE = re.compile(
    rf"(?:(?<![\w+])\+|{_LEFT}00{_SEP}?)\d{{1,3}}(?:{_SEP}?\(\d{{1,4}}\))?"
    rf"{_SEP}?\d{{1,14}}(?:{_SEP}\d{{1,10}}){{0,5}}{_EXT}{_RIGHT}"
)
_PHONE_PAREN_RE = re.compile(
    rf"(?<![\w(])\(\d{{2,5}}\){_SEP}?\d{{2,8}}(?:{_SEP}\d{{2,8}}){{0,3}}{_EXT}{_RIGHT}"
)
_PHONE_GROUPS_RE = re.compile(rf"{_LEFT_RUN}\d{{1,5}}(?:{_SEP}\d{{2,5}}){{2,5}}{_EXT}{_RIGHT_RUN}")
_PHONE_TRUNK_RE = re.compile(rf"{_LEFT_RUN}0\d{{1,5}}[ \u00a0/\-]\d{{4,8}}{_RIGHT_RUN}")
# A phone word right before a digit run ("Tel: ", "call ", "Phone no. ").
_CUE_BEFORE_RE = re.compile(
    r"(?i)\b(?:tel(?:ephone)?|t[ée]l[ée]phone|telefon|phone|ph|mob(?:ile)?|cell|fax|call"
    r"|whatsapp|hotline)\b\.?(?:\s*(?:no\.?|number|nr\.?|#))?\s*[:.]?\s*[+(]?$"
)
# Every phone format has 7+ digits with at most one separator, or a bracket with a space
# or hyphen, between neighbours ("+1 (555) 123-4567"); ". " is not allowed so a year in
# the next sentence is not glued on. Starting with \d lets `re` skip ahead fast, so this
# doubles as the cheap pre-filter that spares most sentences the structural patterns.
_DIGIT_RUN_RE = re.compile(r"\d(?:(?:[ \u00a0.\-/]|\)[ \u00a0\-]?|[ \u00a0]?\()?\d){6,}")
_CUE_WINDOW = 30
_GROUP_SPLIT_RE = re.compile(r"[^\d]+")
_EXT_TAIL_RE = re.compile(r"[ \u00a0]?(?:x|ext\.?|extn\.?)[ \u00a0]?\d{1,6}$")
_DATE_SHAPES = (
    re.compile(r"(?:19|20)\d\d[.\-/ ](?:0?[1-9]|1[0-2])[.\-/ ](?:0?[1-9]|[12]\d|3[01])"),
    re.compile(r"(?:0?[1-9]|[12]\d|3[01])[.\-/ ](?:0?[1-9]|[12]\d|3[01])[.\-/ ](?:19|20)?\d\d"),
    re.compile(r"(?:[01]?\d|2[0-3])[.:][0-5]\d ?- ?(?:[01]?\d|2[0-3])[.:][0-5]\d"),  # 08.30-12.30
)


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _valid_international(candidate: str) -> bool:
    candidate = _EXT_TAIL_RE.sub("", candidate)
    if candidate.startswith("00") and candidate.isdigit():
        return False  # "0040078962190" is an EAN barcode far more often than a phone
    digits = _digits(candidate)
    if candidate.startswith("00"):
        digits = digits[2:]
    if not 8 <= len(digits) <= 15:
        return False
    if _phonenumbers is None:
        return True
    try:
        # Parse the raw text: phonenumbers understands "+44 (0)20 ..." trunk notation.
        raw = "+" + candidate[2:].lstrip(" .-\u00a0") if candidate.startswith("00") else candidate
        number = _phonenumbers.parse(raw, None)
    except _phonenumbers.NumberParseException:
        return False
    return bool(_phonenumbers.is_possible_number(number))


def _plausible_groups(candidate: str) -> bool:
    candidate = _EXT_TAIL_RE.sub("", candidate)
    groups = [g for g in _GROUP_SPLIT_RE.split(candidate) if g]
    total = sum(map(len, groups))
    if not 7 <= total <= 15:
        return False
    if any(shape.fullmatch(candidate) for shape in _DATE_SHAPES):
        return False
    if "-" not in candidate and all(len(g) == 3 for g in groups[1:]) and len(groups[0]) <= 3:
        return False  # thousands grouping: "10 000 000", "612.345.678"
    if all(len(g) == 2 for g in groups) and (len(groups) < 4 or groups[0][0] != "0"):
        return False  # "10 20 30 40" is a list; "01 23 45 67 89" (FR) keeps its trunk 0
    return not all(len(g) == 4 and 1000 <= int(g) <= 2099 for g in groups)  # years list


def _digit_count(text: str) -> int:
    # bytes.translate runs in C: ~10x cheaper than any regex scan, so it gates the rest.
    raw = text.encode("utf-8")
    return len(raw) - len(raw.translate(None, b"0123456789"))


def _find_phones(text: str, digits: int) -> list[PiiMatch]:
    if digits < 7:
        return []
    runs = list(_DIGIT_RUN_RE.finditer(text))
    if not runs:
        return []
    found: list[PiiMatch] = []
    for m in runs:
        start, end = m.span()
        if start and text[start - 1] in "+(":
            start -= 1
        if not 7 <= len(_digits(m.group())) <= 15 or not start:
            continue
        if end < len(text) and (text[end].isalnum() or text[end] in "-/"):
            continue  # digits glued to letters: an ID or code, not a phone
        if _CUE_BEFORE_RE.search(text, max(0, start - _CUE_WINDOW), start):
            found.append(PiiMatch("phone", start, end, text[start:end]))
    for m in _PHONE_INTL_RE.finditer(text):
        if _valid_international(m.group()):
            found.append(PiiMatch("phone", m.start(), m.end(), m.group()))
    for m in _PHONE_PAREN_RE.finditer(text):
        if 7 <= len(_digits(_EXT_TAIL_RE.sub("", m.group()))) <= 15:
            found.append(PiiMatch("phone", m.start(), m.end(), m.group()))
    for m in _PHONE_GROUPS_RE.finditer(text):
        if _plausible_groups(m.group()):
            found.append(PiiMatch("phone", m.start(), m.end(), m.group()))
    for m in _PHONE_TRUNK_RE.finditer(text):
        if 9 <= len(_digits(m.group())) <= 13:
            found.append(PiiMatch("phone", m.start(), m.end(), m.group()))
    return found


def _trim_url(url: str) -> str:
    while url:
        last = url[-1]
        if last in _URL_TRAILING:
            url = url[:-1]
        elif last in _BRACKETS and url.count(last) > url.count(_BRACKETS[last]):
            url = url[:-1]  # "(see https://x.org/a)" - the paren belongs to the prose
        else:
            break
    return url


def _find_urls(text: str) -> list[PiiMatch]:
    if "://" not in text and "www." not in text.lower():
        return []
    found = []
    for m in _URL_RE.finditer(text):
        value = _trim_url(m.group())
        if len(value) > 4 and not value.lower().endswith(("://", "www.")):
            found.append(PiiMatch("url", m.start(), m.start() + len(value), value))
    return found


def _find_ips(text: str, digits: int) -> list[PiiMatch]:
    found = []
    if digits >= 4 and "." in text and _IPV4_HINT_RE.search(text):
        found += [PiiMatch("ip", m.start(), m.end(), m.group()) for m in _IPV4_RE.finditer(text)]
    if text.count(":") >= 2:
        for m in _IPV6_RE.finditer(text):
            if not any(ch not in ":" for ch in m.group()):
                continue  # a bare "::" in prose
            try:
                ipaddress.IPv6Address(m.group())
            except ValueError:
                continue  # times like 12:30:45, ratios like 1:2:3
            found.append(PiiMatch("ip", m.start(), m.end(), m.group()))
    return found


def find_pii(text: str, kinds: Iterable[str] = PII_KINDS) -> list[PiiMatch]:
    """Return non-overlapping PII matches of ``kinds`` in ``text``, ordered by position."""
    wanted = _check_kinds(kinds)
    digits = _digit_count(text)
    candidates = _find_urls(text) + _find_ips(text, digits) + _find_phones(text, digits)
    if "@" in text:
        candidates += [
            PiiMatch("email", m.start(), m.end(), m.group()) for m in _EMAIL_RE.finditer(text)
        ]
    if not candidates:
        return []  # the common case: skip the overlap resolution entirely
    # Higher-priority kinds claim their spans first; within a kind the longest wins.
    candidates.sort(key=lambda c: (_PRIORITY[c.kind], c.start - c.end, c.start))
    chosen: list[PiiMatch] = []
    for cand in candidates:
        if all(cand.end <= c.start or cand.start >= c.end for c in chosen):
            chosen.append(cand)
    chosen.sort(key=lambda c: c.start)
    return [c for c in chosen if c.kind in wanted]


_ALL_KINDS = frozenset(PII_KINDS)


def _check_kinds(kinds: Iterable[str]) -> frozenset[str]:
    if kinds is PII_KINDS or isinstance(kinds, frozenset) and kinds <= _ALL_KINDS:
        return frozenset(kinds)
    wanted = frozenset(kinds)
    unknown = wanted - set(PII_KINDS)
    if unknown:
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; valid kinds: {list(PII_KINDS)}")
    return wanted


def _placeholder(style: str, match: PiiMatch) -> str:
    digest = hashlib.blake2b(match.value.encode("utf-8"), digest_size=4).hexdigest()
    return style.format(KIND=match.kind.upper(), kind=match.kind, hash=digest)


def validate_style(style: str) -> None:
    """Raise ValueError unless ``style`` formats with ``{KIND}``, ``{kind}`` and ``{hash}``."""
    try:
        _placeholder(style, PiiMatch("email", 0, 1, "x"))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"bad PII placeholder style {style!r}: use fields {{KIND}}, {{kind}}, {{hash}}"
        ) from exc


def apply_masks(
    text: str, matches: list[PiiMatch], style: str = "[{KIND}]"
) -> tuple[str, list[tuple[int, int]]]:
    """Replace ``matches`` (sorted, non-overlapping) and return new text and their new spans."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = out_len = 0
    for match in matches:
        parts.append(text[pos : match.start])
        out_len += match.start - pos
        token = _placeholder(style, match)
        spans.append((out_len, out_len + len(token)))
        parts.append(token)
        out_len += len(token)
        pos = match.end
    parts.append(text[pos:])
    return "".join(parts), spans


def mask_pii(
    text: str, kinds: Iterable[str] = PII_KINDS, style: str = "[{KIND}]"
) -> tuple[str, dict[str, int]]:
    """Mask PII in ``text``; return the masked text and the number of matches per kind.

    ``style`` is a format string: ``"[{KIND}]"`` -> "[EMAIL]", ``"<{kind}>"`` -> "<email>",
    ``"[{KIND}:{hash}]"`` -> "[EMAIL:1a2b3c4d]" (same value, same token; this keeps
    co-reference but a short unsalted hash of an email is guessable, so it is
    pseudonymisation, not anonymisation).
    """
    validate_style(style)
    matches = find_pii(text, kinds)
    counts: dict[str, int] = {}
    for match in matches:
        counts[match.kind] = counts.get(match.kind, 0) + 1
    return apply_masks(text, matches, style)[0], counts
