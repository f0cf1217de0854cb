"""The WikiSQE sentence-quality taxonomy and its mapping to Wikipedia cleanup templates.

WikiSQE (Ando et al., AAAI 2024) labels English Wikipedia sentences with the inline cleanup
template an editor attached to them ("citation needed", "who?", ...). The 153 labels and their
five categories live in ``annotation/data/wikisqe_labels.tsv``; this module turns that file into
dataclasses and answers three questions for the import and verification steps:

* which taxonomy label an inline template name stands for (:meth:`Taxonomy.label_for_template`,
  covering the TSV's own template plus the common redirects in :data:`TEMPLATE_ALIASES`);
* where the rendered markers such as ``[citation needed]`` sit in plain text
  (:meth:`Taxonomy.find_markers`);
* which closed-ended question an annotator answers to verify a weak label
  (:meth:`Taxonomy.verification_question`).

Pure Python, no Django: the parsers in :mod:`annotation.sources` import it at parse time.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from annotation.wikisqe_aliases import MARKER_ALIASES, TEMPLATE_ALIASES

DEFAULT_TSV = Path(__file__).resolve().parent / "data" / "wikisqe_labels.tsv"

CITATION = "Citation"
INFORMATION_ADDITION = "Information addition"
SYNTACTIC_SEMANTIC = "Syntactic or semantic revision"
DISPUTED_CLAIM = "Disputed claim"
OTHER = "Other"
CATEGORIES = (CITATION, INFORMATION_ADDITION, SYNTACTIC_SEMANTIC, DISPUTED_CLAIM, OTHER)

#: Labels that WikiSQE counts but that do not flag a quality problem of the sentence:
#: ``{{sic}}`` says a quotation reproduces its source's error faithfully. They stay in the
#: taxonomy (so counts and questions work) but template and marker detection ignore them.
NON_CLEANUP_LABELS = frozenset({"sic"})

_TEMPLATE_PREFIX = re.compile(r"^(?:safesubst:|subst:|msg:)?\s*(?:template:)?\s*", re.IGNORECASE)
_SPACES = re.compile(r"[\s_\u00a0]+")
#: A bracketed run short enough to be a marker; ``[^\[\]]`` keeps "[a][b]" as two matches.
_BRACKETED = re.compile(r"\[([^\[\]\n]{1,90})\]")


def normalize_template_name(name: str) -> str:
    """Fold a template name the way MediaWiki resolves it, but case-insensitively.

    MediaWiki only folds the first letter and treats ``_`` as a space; lower-casing the whole
    name as well costs nothing here because no two cleanup templates differ only in case.
    """
    name = _TEMPLATE_PREFIX.sub("", name.strip(), count=1)
    return _SPACES.sub(" ", name).strip().lower()


def _normalize_marker(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


@dataclass(frozen=True, slots=True)
class Label:
    """One WikiSQE label: the rendered marker text, its category and its source template."""

    name: str
    category: str
    template: str = ""  # page title without "Template:", e.g. "Citation needed"; "" if unknown
    frequency: int = 0  # sentences carrying it in WikiSQE; 0 where the TSV leaves it blank

    @property
    def is_cleanup(self) -> bool:
        """False for labels that do not flag a problem (see :data:`NON_CLEANUP_LABELS`)."""
        return self.name not in NON_CLEANUP_LABELS


@dataclass(frozen=True, slots=True)
class Marker:
    """A rendered cleanup marker found in plain text: ``text[start:end] == "[who?]"``."""

    start: int
    end: int
    label: Label


@dataclass(frozen=True)
class Taxonomy:
    """The label set plus the lookup tables derived from it."""

    labels: tuple[Label, ...]
    _by_name: dict[str, Label] = field(repr=False)
    _by_template: dict[str, Label] = field(repr=False)
    _by_marker: dict[str, Label] = field(repr=False)

    @classmethod
    def from_labels(cls, labels: Iterable[Label]) -> Taxonomy:
        """Build the lookup tables; the alias tables above are applied on top of the TSV."""
        labels = tuple(labels)
        by_name = {label.name: label for label in labels}
        by_template: dict[str, Label] = {}
        # Several labels can share one TSV template (two renderings of the same template);
        # the one whose name equals the template wins, then the most frequent.
        for label in sorted(labels, key=lambda lb: -lb.frequency):
            if not label.template:
                continue
            key = normalize_template_name(label.template)
            current = by_template.get(key)
            if current is None or (label.name == key and current.name != key):
                by_template[key] = label
        # A label ending in "?" is itself a valid inline template name ({{who?}}, {{or?}}).
        for label in labels:
            if label.name.endswith("?"):
                by_template.setdefault(normalize_template_name(label.name), label)
        for alias, target in TEMPLATE_ALIASES.items():
            if target is None:
                by_template.pop(alias, None)
            elif target in by_name:
                by_template[alias] = by_name[target]
        for key in [k for k, lb in by_template.items() if not lb.is_cleanup]:
            del by_template[key]

        by_marker = {_normalize_marker(lb.name): lb for lb in labels if lb.is_cleanup}
        for alias, target in MARKER_ALIASES.items():
            if target in by_name:
                by_marker[_normalize_marker(alias)] = by_name[target]
        return cls(labels, by_name, by_template, by_marker)

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[Label]:
        return iter(self.labels)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def categories(self) -> tuple[str, ...]:
        """Categories in TSV order."""
        return tuple(dict.fromkeys(label.category for label in self.labels))

    def get(self, name: str) -> Label:
        """The label called *name*; ``KeyError`` if the taxonomy has none."""
        return self._by_name[name]

    def in_category(self, category: str) -> tuple[Label, ...]:
        """Labels of one category, most frequent first."""
        return tuple(lb for lb in self.top_labels(len(self.labels)) if lb.category == category)

    def top_labels(self, n: int, *, category: str | None = None) -> tuple[Label, ...]:
        """The *n* most frequent labels (ties broken by name, so the order is stable)."""
        pool = (lb for lb in self.labels if category is None or lb.category == category)
        return tuple(sorted(pool, key=lambda lb: (-lb.frequency, lb.name))[: max(n, 0)])

    def label_for_template(self, name: str) -> Label | None:
        """The label an inline template stands for, or ``None`` for any other template.

        ``name`` is the raw name as written (``"Citation_needed"``, ``"subst:cn"``).
        """
        return self._by_template.get(normalize_template_name(name))

    def label_for_marker(self, text: str) -> Label | None:
        """The label whose rendered marker is *text* (with or without the brackets)."""
        text = text.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return self._by_marker.get(_normalize_marker(text))

    def find_markers(self, text: str) -> list[Marker]:
        """Rendered cleanup markers in *text*, in order. Footnotes like ``[12]`` are not markers."""
        found = []
        for match in _BRACKETED.finditer(text):
            label = self._by_marker.get(_normalize_marker(match.group(1)))
            if label is not None:
                found.append(Marker(match.start(), match.end(), label))
        return found

    def verification_question(self, label: Label | str) -> str:
        """A yes/no question an annotator answers to confirm *label* on one sentence."""
        if isinstance(label, str):
            if label not in self._by_name:
                raise ValueError(f"unknown WikiSQE label: {label!r}")
            label = self._by_name[label]
        special = SPECIAL_QUESTIONS.get(label.name)
        if special:
            return special
        asking, plain = CATEGORY_QUESTIONS.get(label.category, CATEGORY_QUESTIONS[OTHER])
        template = asking if label.name.endswith("?") else plain
        return template.format(label=label.name.rstrip("?"))


#: Hand-written questions for the most frequent labels, where the category template reads badly.
SPECIAL_QUESTIONS: dict[str, str] = {
    "citation needed": "Does this sentence need a citation?",
    "clarification needed": "Does this sentence need clarification?",
    "disambiguation needed": "Does this sentence link to a disambiguation page instead of "
    "the specific article meant?",
    "who?": "Does this sentence leave unclear who is meant?",
    "dead link": "Does this sentence cite a source whose link is dead?",
    "when?": "Does this sentence leave unclear when something happened?",
    "original research?": "Does this sentence contain original research not supported by "
    "its sources?",
    "sic": "Does this sentence reproduce an error from a quoted source (marked [sic])?",
    "dubious": "Is the claim in this sentence dubious?",
    "by whom?": "Does this sentence leave unclear by whom something was done or said?",
    "not in citation given": "Does the cited source fail to support this sentence?",
    "failed verification": "Does the cited source fail to support this sentence?",
    "pronunciation?": "Does this sentence need a pronunciation for a name or term?",
    "attribution needed": "Does this sentence need to say whose view or words it reports?",
    "unreliable source?": "Does this sentence rely on an unreliable source?",
    "which?": "Does this sentence leave unclear which one is meant?",
    "needs update": "Is the information in this sentence out of date?",
    "verification needed": "Does this sentence need to be checked against its sources?",
    "according to whom?": "Does this sentence leave unclear according to whom the claim holds?",
    "vague": "Is this sentence too vague?",
    "neutrality disputed": "Is the neutrality of this sentence disputed?",
    "this quote needs a citation": "Does the quotation in this sentence need a citation?",
    "where?": "Does this sentence leave unclear where something happened?",
    "specify": "Does this sentence need to be more specific?",
    "full citation needed": "Does the citation for this sentence lack full bibliographic details?",
    "non-primary source needed": "Does this sentence need a non-primary source?",
    "self-published source?": "Does this sentence rely on a self-published source?",
    "further explanation needed": "Does this sentence need further explanation?",
    "why?": "Does this sentence leave unclear why something happened?",
    "how?": "Does this sentence leave unclear how something happened?",
    "relevant?": "Is the relevance of this sentence to the article questionable?",
    "quantify": "Does this sentence need a number or quantity?",
    "weasel words": "Does this sentence use weasel words?",
    "disputed": "Is the claim in this sentence disputed?",
    "better source needed": "Does this sentence need a better source?",
    "page needed": "Does the citation for this sentence lack a page number?",
    "subscription required": "Does the source cited for this sentence require a subscription?",
    "emphasis added": "Does a quotation in this sentence carry emphasis not in the original?",
    "compared to?": "Does this sentence make a comparison without saying what it is compared to?",
    "when defined as?": "Does this sentence use a term without saying how it is defined?",
    "importance?": "Is the importance of what this sentence says questionable?",
    "example's importance?": "Is the importance of the example in this sentence questionable?",
    "a fact or an opinion?": "Is it unclear whether this sentence states a fact or an opinion?",
    "relevant to this paragraph?": "Is the relevance of this sentence to its paragraph "
    "questionable?",
    "relevant to this section?": "Is the relevance of this sentence to its section questionable?",
    "needs ipa": "Does this sentence need a pronunciation in IPA?",
    "ambiguous": "Is this sentence ambiguous?",
    "jargon": "Does this sentence use jargon that needs explaining?",
    "tone": "Is the tone of this sentence unsuitable for an encyclopedia?",
    "editorializing": "Does this sentence editorialize?",
    "opinion": "Does this sentence present an opinion as fact?",
    "contradictory": "Does this sentence contradict other statements in the article?",
    "need quotation to verify": "Does verifying this sentence need a quotation from its source?",
    "medical citation needed": "Does this medical claim need a citation to a reliable medical "
    "source?",
    "third-party source needed": "Does this sentence need a third-party source?",
}

#: Fallback per category as (for labels ending in "?", for the others); ``{label}`` is the
#: label without its trailing "?".
CATEGORY_QUESTIONS: dict[str, tuple[str, str]] = {
    CITATION: (
        'Could the sourcing of this sentence be questioned as "{label}"?',
        'Does the sourcing of this sentence have the problem "{label}"?',
    ),
    INFORMATION_ADDITION: (
        'Does this sentence leave the question "{label}?" unanswered?',
        'Does this sentence need more information ("{label}")?',
    ),
    SYNTACTIC_SEMANTIC: (
        'Should this sentence be reworded because of "{label}"?',
        'Should this sentence be reworded because of "{label}"?',
    ),
    DISPUTED_CLAIM: (
        'Is the claim in this sentence questionable ("{label}")?',
        'Is the claim in this sentence disputed ("{label}")?',
    ),
    OTHER: (
        'Does this sentence have the issue "{label}"?',
        'Does this sentence have the issue "{label}"?',
    ),
}


def read_labels(path: Path | str = DEFAULT_TSV) -> list[Label]:
    """Parse the taxonomy TSV (label, category, wikipedia_template, sentences_in_wikisqe)."""
    labels = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            template = unquote(row["wikipedia_template"].strip())
            if template.lower().startswith("template:"):
                template = template[len("template:") :]
            count = row["sentences_in_wikisqe"].strip()
            labels.append(
                Label(
                    name=row["label"].strip(),
                    category=row["category"].strip(),
                    template=template.replace("_", " "),
                    frequency=int(count) if count else 0,
                )
            )
    return labels


@functools.lru_cache(maxsize=4)
def load_taxonomy(path: Path | str = DEFAULT_TSV) -> Taxonomy:
    """The taxonomy from *path*, parsed once per process."""
    return Taxonomy.from_labels(read_labels(path))


# Module-level shortcuts over the default taxonomy, for callers that never need another one.


def top_labels(n: int, *, category: str | None = None) -> tuple[Label, ...]:
    """The *n* most frequent labels of the default taxonomy."""
    return load_taxonomy().top_labels(n, category=category)


def verification_question(label: Label | str) -> str:
    """The closed-ended verification question for *label* (default taxonomy)."""
    return load_taxonomy().verification_question(label)


def label_for_template(name: str) -> Label | None:
    """The label an inline template name stands for (default taxonomy)."""
    return load_taxonomy().label_for_template(name)


def find_markers(text: str) -> list[Marker]:
    """Rendered cleanup markers in *text* (default taxonomy)."""
    return load_taxonomy().find_markers(text)
