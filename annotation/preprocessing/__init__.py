"""DMOps step 3: text preprocessing as pure functions (no Django, no ORM).

The service layer feeds ``(item_id, text)`` pairs to :func:`plan` and applies the
returned :class:`Decision` objects; everything else is usable per string.

Modules: :mod:`.text` (normalisation, dedupe keys, filters), :mod:`.pii` (detection and
masking), :mod:`.pipeline` (config, planner, report).
"""

from __future__ import annotations

from .pii import PII_KINDS, PiiMatch, find_pii, mask_pii
from .pipeline import RULES, Decision, PreprocessingConfig, PreprocessingReport, plan
from .text import (
    CHARSET_REASONS,
    DEDUPE_LEVELS,
    charset_sanity,
    dedupe_digest,
    dedupe_key,
    normalise,
    passes_length,
    script_share,
    starts_with_capital,
    text_hash,
    word_count,
)

__all__ = [
    "CHARSET_REASONS",
    "DEDUPE_LEVELS",
    "PII_KINDS",
    "RULES",
    "Decision",
    "PiiMatch",
    "PreprocessingConfig",
    "PreprocessingReport",
    "charset_sanity",
    "dedupe_digest",
    "dedupe_key",
    "find_pii",
    "mask_pii",
    "normalise",
    "passes_length",
    "plan",
    "script_share",
    "starts_with_capital",
    "text_hash",
    "word_count",
]
