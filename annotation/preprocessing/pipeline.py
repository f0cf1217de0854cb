"""Declarative preprocessing config, a streaming per-item planner and its report.

Rules run in this fixed order; the first rule that drops an item wins:

1. ``normalise``  - rewrite (NFC/NFKC, invisible chars, whitespace); never drops.
2. ``empty``      - nothing left after normalisation.
3. ``charset``    - :func:`charset_sanity` found a problem (if ``drop_bad_charset``).
4. ``length``     - word count outside ``[min_words, max_words]``.
5. ``capital``    - does not start with a capital letter (if ``require_capital``).
6. ``pii``        - PII found: drop (``pii_action="drop"``) or mask (``"mask"``).
7. ``duplicate``  - dedupe key already seen (``dedupe="exact"|"loose"``).

Dedupe runs last, on the final (masked) text: what matters is that the *output* holds no
duplicates, and an item dropped by an earlier rule must not claim a hash so that a later
good copy of it is kept.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .pii import PII_KINDS, apply_masks, find_pii, validate_style
from .text import (
    DEDUPE_LEVELS,
    charset_sanity,
    dedupe_digest,
    key_digest,
    normalise,
    passes_length,
    starts_with_capital,
)

__all__ = ["RULES", "Decision", "PreprocessingConfig", "PreprocessingReport", "plan"]

RULES = ("empty", "charset", "length", "capital", "pii", "duplicate")
PII_ACTIONS = ("mask", "drop")
MAX_EXAMPLES = 5
_SNIPPET_CONTEXT = 40


@dataclass(frozen=True)
class PreprocessingConfig:
    """What :func:`plan` does to each item; JSON-serialisable via ``to_dict``/``from_dict``."""

    normalise: bool = True
    nfkc: bool = False
    keep_newlines: bool = False
    dedupe: str | None = "exact"
    min_words: int | None = None
    max_words: int | None = None
    require_capital: bool = False
    pii_kinds: tuple[str, ...] = PII_KINDS
    pii_action: str | None = "mask"
    pii_style: str = "[{KIND}]"
    drop_bad_charset: bool = True
    min_letter_share: float = 0.5

    def __post_init__(self) -> None:
        # Accept lists (as they arrive from JSON) but store a tuple so the config is hashable.
        object.__setattr__(self, "pii_kinds", tuple(self.pii_kinds))
        self._validate()

    def _validate(self) -> None:
        for name in ("normalise", "nfkc", "keep_newlines", "require_capital", "drop_bad_charset"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("min_words", "max_words"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValueError(f"{name} must be a non-negative integer or null, got {value!r}")
        if (
            self.min_words is not None
            and self.max_words is not None
            and self.min_words > self.max_words
        ):
            raise ValueError(
                f"min_words ({self.min_words}) is greater than max_words ({self.max_words})"
            )
        if self.dedupe not in (*DEDUPE_LEVELS, None):
            raise ValueError(f"dedupe must be one of {[*DEDUPE_LEVELS, None]}, got {self.dedupe!r}")
        if self.pii_action not in (*PII_ACTIONS, None):
            raise ValueError(
                f"pii_action must be one of {[*PII_ACTIONS, None]}, got {self.pii_action!r}"
            )
        unknown = [k for k in self.pii_kinds if k not in PII_KINDS]
        if unknown:
            raise ValueError(f"unknown pii_kinds {unknown}; valid kinds: {list(PII_KINDS)}")
        validate_style(self.pii_style)
        share = self.min_letter_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ValueError(f"min_letter_share must be a number in [0, 1], got {share!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreprocessingConfig:
        """Build a config from a JSON-like mapping; unknown keys or bad values raise ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError(f"preprocessing config must be a mapping, got {type(data).__name__}")
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ValueError(f"unknown preprocessing option(s) {unknown}; valid options: {valid}")
        kinds = data.get("pii_kinds", PII_KINDS)
        if isinstance(kinds, str) or not isinstance(kinds, Iterable):
            raise ValueError(f"pii_kinds must be a list of strings, got {kinds!r}")
        return cls(**{**data, "pii_kinds": tuple(kinds)})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict that :meth:`from_dict` turns back into an equal config."""
        data = dataclasses.asdict(self)
        data["pii_kinds"] = list(self.pii_kinds)
        return data


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one item.

    ``text`` is the new text when the item is kept and its text changed, else ``None``
    (so the caller writes only rows that changed). ``rule`` names the rule that dropped the
    item; ``detail`` refines it (charset reasons, PII kinds). ``changes`` lists the rewrites
    applied to a kept item ("normalise", "pii_mask").
    """

    item_id: int
    keep: bool
    rule: str | None = None
    detail: tuple[str, ...] = ()
    text: str | None = None
    changes: tuple[str, ...] = ()
    pii_counts: Mapping[str, int] = field(default_factory=dict)


@dataclass
class PreprocessingReport:
    """Accumulates decisions into counts for the UI and the dataset card.

    Beware: ``pii_examples`` hold raw PII ("before" snippets); store the report where the
    raw data is allowed, or call ``to_dict(include_examples=False)``.
    """

    total: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    drop_details: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    pii_matches: Counter[str] = field(default_factory=Counter)
    pii_items: Counter[str] = field(default_factory=Counter)
    pii_examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, decision: Decision) -> None:
        """Count one decision (examples are added by :func:`plan`, which has the texts)."""
        self.total += 1
        if decision.keep:
            self.kept += 1
        else:
            self.dropped[decision.rule or "unknown"] += 1
            for reason in decision.detail:
                self.drop_details[f"{decision.rule}:{reason}"] += 1
        for change in decision.changes:
            self.changed[change] += 1
        for kind, n in decision.pii_counts.items():
            self.pii_matches[kind] += n
            self.pii_items[kind] += 1

    def add_example(self, kind: str, item_id: int, before: str, after: str) -> None:
        """Keep up to ``MAX_EXAMPLES`` before -> after snippets per PII kind."""
        examples = self.pii_examples.setdefault(kind, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append({"item_id": item_id, "before": before, "after": after})

    def funnel(self) -> list[dict[str, Any]]:
        """Items entering and leaving each rule, in rule order."""
        remaining, stages = self.total, []
        for rule in RULES:
            after = remaining - self.dropped.get(rule, 0)
            stages.append({"rule": rule, "before": remaining, "after": after})
            remaining = after
        return stages

    def to_dict(self, include_examples: bool = True) -> dict[str, Any]:
        """JSON-ready summary."""
        data: dict[str, Any] = {
            "total": self.total,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "drop_details": dict(self.drop_details),
            "changed": dict(self.changed),
            "funnel": self.funnel(),
            "pii": {
                kind: {"matches": self.pii_matches[kind], "items": self.pii_items[kind]}
                for kind in PII_KINDS
                if self.pii_matches[kind]
            },
        }
        if include_examples:
            data["pii_examples"] = {k: list(v) for k, v in self.pii_examples.items()}
        return data


def _snippet(text: str, start: int, end: int) -> str:
    lo, hi = max(0, start - _SNIPPET_CONTEXT), min(len(text), end + _SNIPPET_CONTEXT)
    return ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")


def _decide(
    item_id: int,
    original: str,
    config: PreprocessingConfig,
    seen: set[bytes],
    report: PreprocessingReport | None,
    pii_kinds: frozenset[str],
) -> Decision:
    changes: list[str] = []
    text = original
    if config.normalise:
        text = normalise(text, nfkc=config.nfkc, keep_newlines=config.keep_newlines)
        if text != original:
            changes.append("normalise")
    if not text.strip():
        return Decision(item_id, False, "empty")
    if config.drop_bad_charset:
        reasons = charset_sanity(text, config.min_letter_share)
        if reasons:
            return Decision(item_id, False, "charset", tuple(reasons))
    bounded = config.min_words is not None or config.max_words is not None
    if bounded and not passes_length(text, config.min_words, config.max_words):
        return Decision(item_id, False, "length")
    if config.require_capital and not starts_with_capital(text):
        return Decision(item_id, False, "capital")

    counts: dict[str, int] = {}
    if config.pii_action and config.pii_kinds:
        matches = find_pii(text, pii_kinds)
        for match in matches:
            counts[match.kind] = counts.get(match.kind, 0) + 1
        if matches and config.pii_action == "drop":
            if report is not None:
                for match in matches:
                    before = _snippet(text, match.start, match.end)
                    report.add_example(match.kind, item_id, before, "(item dropped)")
            return Decision(item_id, False, "pii", tuple(sorted(counts)), pii_counts=counts)
        if matches:
            masked, spans = apply_masks(text, matches, config.pii_style)
            if report is not None:
                for match, (s, e) in zip(matches, spans, strict=True):
                    before = _snippet(text, match.start, match.end)
                    report.add_example(match.kind, item_id, before, _snippet(masked, s, e))
            text = masked
            changes.append("pii_mask")

    if config.dedupe:
        # The exact key is the default normal form; skip re-normalising text already in it
        # (masking only swaps spans for placeholders, it adds no whitespace).
        already = config.normalise and not config.nfkc and not config.keep_newlines
        if config.dedupe == "exact" and already:
            digest = key_digest(text)
        else:
            digest = dedupe_digest(text, config.dedupe)
        if digest in seen:
            return Decision(item_id, False, "duplicate", pii_counts=counts)
        seen.add(digest)
    return Decision(
        item_id,
        True,
        text=text if text != original else None,
        changes=tuple(changes),
        pii_counts=counts,
    )


def plan(
    texts_with_ids: Iterable[tuple[int, str]],
    config: PreprocessingConfig,
    report: PreprocessingReport | None = None,
    seen_hashes: set[bytes] | None = None,
) -> Iterator[Decision]:
    """Yield one :class:`Decision` per ``(id, text)``, lazily, in input order.

    Memory is O(distinct kept texts) for dedupe (a 16-byte digest plus set overhead: about
    80 MB per million) and O(1) otherwise. Pass ``seen_hashes`` (digests from
    :func:`dedupe_digest` at the config's level) to dedupe against items processed earlier,
    e.g. a previous import batch; it is updated in place.
    """
    seen = seen_hashes if seen_hashes is not None else set()
    pii_kinds = frozenset(config.pii_kinds)  # validated once, not per item
    for item_id, text in texts_with_ids:
        decision = _decide(item_id, text, config, seen, report, pii_kinds)
        if report is not None:
            report.add(decision)
        yield decision
