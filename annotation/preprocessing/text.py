"""Text normalisation, dedupe keys and cheap quality filters (DMOps step 3).

Everything here is a pure function of one string so the service layer can call it per item
and a worker can stream millions of items through it.

Normalisation choices (deliberately conservative: we clean encoding noise, never content):

* Unicode NFC by default. NFKC is opt-in because it rewrites content ("x²" -> "x2",
  "ﬁ" -> "fi", full-width letters -> ASCII), which matters for some tasks.
* Removed: C0/C1 control characters (tab/newlines become whitespace), zero-width space
  U+200B, word joiner U+2060, BOM U+FEFF and soft hyphen U+00AD. Kept: ZWJ/ZWNJ
  (U+200C/U+200D), which are meaningful in Persian/Indic scripts and emoji sequences,
  and bidi marks, which carry display intent in right-to-left text.
* Whitespace: every Unicode space (NBSP, thin space, ideographic space...) becomes " ",
  runs collapse to one, ends are stripped. Newlines collapse too unless ``keep_newlines``,
  in which case line breaks survive (at most one blank line in a row).
* Quotes, dashes, ellipses and case are left alone: they are content.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from functools import lru_cache

__all__ = [
    "charset_sanity",
    "dedupe_digest",
    "dedupe_key",
    "key_digest",
    "normalise",
    "passes_length",
    "script_share",
    "starts_with_capital",
    "text_hash",
    "word_count",
]

# Control characters (except \t \n \v \f \r and NEL, handled as whitespace) plus invisible
# format characters.
_INVISIBLE_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u200b\u2060\ufeff]")
_LINEBREAK_RE = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_HSPACE_RE = re.compile(r"[^\S\n]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")


def normalise(text: str, *, nfkc: bool = False, keep_newlines: bool = False) -> str:
    """Return ``text`` in canonical form: NFC (or NFKC), no invisible chars, tidy whitespace."""
    form = "NFKC" if nfkc else "NFC"
    # is_normalized is a fast C check; most corpus text is already NFC.
    if not unicodedata.is_normalized(form, text):
        text = unicodedata.normalize(form, text)
    if _INVISIBLE_RE.search(text):  # searching is cheaper than an always-run sub
        text = _INVISIBLE_RE.sub("", text)
    if not keep_newlines:
        # str.split() splits on all Unicode whitespace (NBSP, U+3000...), like re's \s,
        # and is several times faster than a regex substitution.
        return " ".join(text.split())
    text = _LINEBREAK_RE.sub("\n", text)
    text = _HSPACE_RE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES_RE.sub("\n\n", text).strip()


# --------------------------------------------------------------------------- dedupe keys

DEDUPE_LEVELS = ("exact", "loose")


# Unicode files these under punctuation, but they change meaning: "5%" is not "5".
_MEANINGFUL_PUNCTUATION = frozenset("%‰‱#&@")


@lru_cache(maxsize=1)
def _punctuation_table() -> dict[int, None]:
    # Built lazily rather than at import time; str.translate with it is ~25x faster than
    # an equivalent regex class. Only planes 0-1 are scanned: planes 2-3 hold CJK
    # ideographs, 14 tags and 15-16 private use, none of them punctuation.
    return {
        cp: None
        for cp in range(0x20000)
        if unicodedata.category(chr(cp)).startswith("P") and chr(cp) not in _MEANINGFUL_PUNCTUATION
    }


def dedupe_key(text: str, level: str = "exact") -> str:
    """Return the string two texts must share to count as duplicates.

    ``exact``: the normalised text (NFC, tidy whitespace), so only encoding/spacing noise is
    forgiven. ``loose``: additionally NFKC, casefolded, with Unicode punctuation removed;
    "Hello, World!" and "hello world" collide. Symbols ($, +), the punctuation that carries
    meaning (% ‰ # & @) and diacritics are kept ("5%" vs "5", "resume" vs "résumé").
    """
    if level == "exact":
        return normalise(text)
    if level == "loose":
        text = unicodedata.normalize("NFKC", text).casefold()
        text = text.translate(_punctuation_table())
        return " ".join(_INVISIBLE_RE.sub("", text).split())
    raise ValueError(f"unknown dedupe level {level!r}; expected one of {DEDUPE_LEVELS}")


def key_digest(key: str) -> bytes:
    """16-byte BLAKE2b digest of an already computed dedupe key."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest()


def dedupe_digest(text: str, level: str = "exact") -> bytes:
    """16-byte digest of :func:`dedupe_key`; compact enough to keep a set of millions."""
    return key_digest(dedupe_key(text, level))


def text_hash(text: str, level: str = "exact") -> str:
    """Hex (32 chars) BLAKE2b-128 of the dedupe key at ``level``.

    BLAKE2b-128 rather than SHA-256: it is faster in CPython's hashlib, and 128 bits keeps
    the chance of any accidental collision negligible (~1e-20 for a billion texts). This is
    a dedupe key, not a security boundary.
    """
    return dedupe_digest(text, level).hex()


# ------------------------------------------------------------------------------ filters

_NON_WORD_RUN_RE = re.compile(r"[^\w\s]+")


def word_count(text: str) -> int:
    """Whitespace-separated tokens that contain at least one letter or digit.

    Stand-alone punctuation ("—", "&") is not a word. Scripts written without spaces
    (Chinese, Japanese, Thai) count as one word per run, so use character length there.
    """
    count = len(text.split())
    # Subtract tokens made only of punctuation; few candidates per text, so check in Python.
    for m in _NON_WORD_RUN_RE.finditer(text):
        start, end = m.span()
        if (start == 0 or text[start - 1].isspace()) and (end == len(text) or text[end].isspace()):
            count -= 1
    return count


def passes_length(text: str, min_words: int | None = None, max_words: int | None = None) -> bool:
    """True when ``min_words <= word_count(text) <= max_words`` (``None`` = unbounded)."""
    n = word_count(text)
    return (min_words is None or n >= min_words) and (max_words is None or n <= max_words)


# Opening brackets/quotes may precede the capital: '"The ...' and '(The ...' still pass.
_OPENERS = frozenset("\"'([{«‹„‚“‘¿¡")


def starts_with_capital(text: str) -> bool:
    """True when the first character after opening quotes/brackets is an upper/title-case letter.

    Mirrors the WikiSQE rule (keep sentences starting with a capital letter). A leading
    digit fails: "1990 was..." is usually a fragment split out of a longer sentence.
    """
    for ch in text:
        if ch in _OPENERS or ch.isspace():
            continue
        return ch.isupper() or ch.istitle()
    return False


# UTF-8 bytes decoded as Latin-1/cp1252: "Ã©" (é), "â€™" (’), "Â " (NBSP), "Ã¼" (ü)...
_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_MOJIBAKE_RE = re.compile(f"[ÃÂ][\u0080-\u00bf{_CP1252_HIGH}]|â€[\u0080-\u00bf{_CP1252_HIGH}]|ï»¿")
_BAD_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LETTER_RE = re.compile(r"[^\W\d_]")
_ASCII_LETTERS = string.ascii_letters.encode("ascii")
_ASCII_SPACES = string.whitespace.encode("ascii")

CHARSET_REASONS = ("empty", "replacement_char", "mojibake", "control_chars", "mostly_non_letters")


def charset_sanity(text: str, min_letter_share: float = 0.5) -> list[str]:
    """Return why ``text`` looks broken (empty list = looks fine).

    Reasons: ``empty``; ``replacement_char`` (U+FFFD, a lossy decode happened upstream);
    ``mojibake`` (UTF-8 read as Latin-1/cp1252); ``control_chars`` (C0/C1 or lone
    surrogates); ``mostly_non_letters`` (letters < ``min_letter_share`` of non-space chars:
    tables, markup, number dumps).
    """
    if text.isascii():
        # Fast path for the common case: byte-level counting runs in C.
        raw = text.encode("ascii")
        non_space = len(raw.translate(None, _ASCII_SPACES))
        letters = non_space - len(raw.translate(None, _ASCII_SPACES + _ASCII_LETTERS))
    else:
        non_space = len("".join(text.split()))
        letters = _LETTER_RE.subn("", text)[1]  # subn counts matches in C
    if non_space == 0:
        return ["empty"]
    reasons = []
    if "\ufffd" in text:
        reasons.append("replacement_char")
    if not text.isascii() and _MOJIBAKE_RE.search(text):
        reasons.append("mojibake")
    if _BAD_CONTROL_RE.search(text):
        reasons.append("control_chars")
    if letters < min_letter_share * non_space:
        reasons.append("mostly_non_letters")
    return reasons


_SCRIPT_ALIASES = {"han": "CJK", "chinese": "CJK", "kanji": "CJK"}


@lru_cache(maxsize=65536)
def _char_script(ch: str) -> str:
    # The first word of a letter's Unicode name is its script for all major scripts
    # ("LATIN SMALL LETTER E WITH ACUTE", "CYRILLIC ...", "CJK UNIFIED IDEOGRAPH-4E00").
    return unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]


def script_share(text: str, script: str = "Latin") -> float:
    """Share of letters in ``text`` that belong to ``script`` (0.0 when there are no letters).

    Approximation from Unicode character names (stdlib only); good enough to spot a
    Cyrillic or CJK sentence in an English corpus, not a language identifier.
    """
    wanted = _SCRIPT_ALIASES.get(script.lower(), script.upper())
    letters = _LETTER_RE.findall(text)
    if not letters:
        return 0.0
    return sum(_char_script(ch) == wanted for ch in letters) / len(letters)
