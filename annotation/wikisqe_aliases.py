"""How editors actually name the WikiSQE labels (annotation/wikisqe.py): template redirects
and shorthands, and rendered marker texts that differ from the label name. Data, kept apart
from the taxonomy's code."""

from __future__ import annotations

#: Redirects and shorthands editors actually type, as ``label: name | name...`` (normalised
#: names, see :func:`normalize_template_name`). These win over the TSV's ``Template:X`` column,
#: which names one page per label and sometimes not the inline one. The ``-`` line blocks names
#: that the TSV would map but that are article-level banners or unrelated templates on English
#: Wikipedia ({{update}} is the banner, {{update inline}} the inline one; {{as of}} writes a
#: date, {{as of?}} asks for one).
_TEMPLATE_ALIAS_TABLE = """
citation needed: cn | fact | citation needed | cite needed | citation-needed | citationneeded
    | cite-needed | citeneeded | needs citation | needcite | ref needed | reference needed
    | refneeded | source needed | citation required | citation missing | cite missing
    | proveit | uncited | cn span | cns | citation needed span | fact span
failed verification: failed verification | fv | failed verification span
    | not in citation given | not in citation | not in source | nicg | verification failed
    | failedverification
dead link: dead link | deadlink | dead-link | dl | dead | 404 | dead url | deadurl
    | broken link | link broken | permanent dead link | permanently dead link
unreliable source?: unreliable source? | unreliable source | unreliable | unrel | rs?
    | reliable source? | verify credibility
original research?: or? | or inline | original research inline | original research?
    | original research span
better source needed: better source needed | better source | bsn | better source? | betterref
verification needed: verification needed | verify source | verification
page needed: page needed | page number | pn | pages needed | page?
full citation needed: full citation needed | full | full citation | fullcitation
attribution needed: attribution needed | attribution?
need quotation to verify: request quotation | rq | request quote | quote request
self-published source?: self-published inline | self-published source | sps
non-primary source needed: primary source inline | primary source? | non-primary source needed
third-party source needed: third-party inline | third party inline
medical citation needed: medcn | medical citation needed
bare url: bare url inline | bare url
excessive citations: excessive citations inline
subscription required: subscription | subscription needed
who?: who | whom | who? | whom?
when?: when | when?
where?: where | where?
why?: why | why?
how?: how | how?
which?: which | which?
whose?: whose | whose?
by whom?: by whom | by whom? | bywhom
according to whom?: according to whom | according to whom? | atw | according to who
says who?: says who | says who?
to whom?: to whom | to whom?
from whom?: from whom | from whom?
like whom?: like whom | like whom?
with whom?: with whom | with whom?
until when?: until when | until when?
how often?: how often | how often?
by how much?: by how much | by how much?
timeframe?: timeframe | timeframe? | time frame?
pronunciation?: pronunciation? | pronunciation needed
example needed: example needed | example? | examples needed
further explanation needed: further explanation needed | explain | further explanation
clarification needed: clarify | clarification needed | clarify me | clarify span
    | clarification | clarify inline | huh
vague: vague | vague inline
weasel words: weasel inline | weasel word | weasel-inline | weasel words
tone: tone inline | tone-inline
jargon: jargon inline | jargon
peacock term: peacock inline | peacock term
editorializing: editorializing | editorialising | editorializing inline
when defined as?: when defined | when defined as
expand acronym: expand acronym | expand abbreviation
repetition: repetition inline
dubious: dubious | dubious span | dubious inline | doubtful
neutrality disputed: pov statement | npov statement | pov-statement | pov inline
    | neutrality disputed
disputed: disputed inline | disputed-inline
relevant?: relevant? | relevance? | relevance inline
contradictory: contradictory inline | contradiction inline
speculation?: speculation inline
importance?: importance inline
inconsistent: inconsistent inline
disambiguation needed: disambiguation needed | dn | dab needed | disambiguate
    | disambig needed | dab-needed
needs update: update inline | update-inline | needs update | update after
to be determined: tbd | to be determined
promotion?: promotion inline | promotional inline
emphasis added: emphasis added | added emphasis
-: update | coordinates | pronunciation | as of | or
"""

#: Rendered marker texts that differ from the label name (matched case-insensitively).
_MARKER_ALIAS_TABLE = """
dubious: dubious – discuss | dubious - discuss | dubious — discuss | dubious–discuss
dead link: permanent dead link
neutrality disputed: neutrality is disputed
unreliable source?: unreliable source
original research?: original research
better source needed: better source
failed verification: failed verification – see discussion
clarification needed: clarify
"""


def _parse_alias_table(table: str) -> dict[str, str | None]:
    aliases: dict[str, str | None] = {}
    # An indented line continues the one above.
    for entry in table.strip().replace("\n    ", " ").splitlines():
        label, _, names = entry.partition(": ")
        for name in names.split("|"):
            aliases[name.strip()] = None if label == "-" else label
    return aliases


TEMPLATE_ALIASES: dict[str, str | None] = _parse_alias_table(_TEMPLATE_ALIAS_TABLE)
MARKER_ALIASES: dict[str, str] = {
    alias: label
    for alias, label in _parse_alias_table(_MARKER_ALIAS_TABLE).items()
    if label is not None
}
