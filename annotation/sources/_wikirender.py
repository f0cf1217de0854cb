"""Wikitext to plain prose paragraphs, with the positions of inline cleanup templates.

mwparserfromhell builds the tree; this module walks it and keeps what a reader sees as prose:
text, link labels, the content of formatting tags and of a few text-bearing templates
(``{{lang}}``, ``{{convert}}``...). It drops references, tables, infoboxes and every other
template, files and categories, math, comments. Each inline cleanup template becomes a marker
at its offset in the output (see :mod:`annotation.sources._sentences`); inside ``<ref>``, only
problems of the reference itself count (``{{dead link}}`` in a reference is a problem of the
claim's sourcing, a ``{{cn}}`` in a footnote's own text is not about the sentence).

A cleanup template alone on its line is an article-level banner and tags no sentence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import mwparserfromhell
from mwparserfromhell.nodes import (
    ExternalLink,
    Heading,
    HTMLEntity,
    Tag,
    Template,
    Text,
    Wikilink,
)
from mwparserfromhell.wikicode import Wikicode

from annotation.wikisqe import CITATION, Label, Taxonomy, normalize_template_name

_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2009\u202f]+")
_BOLD_ITALIC = re.compile(r"'{2,}")
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_LANGUAGE_PREFIX = re.compile(r"[a-z]{2,3}(?:-[a-z]+)*")
_NO_SPACE_BEFORE = frozenset(".,;:!?)]")
_SKIPPED_NAMESPACES = frozenset({"file", "image", "media", "category"})


def _names(names: str) -> tuple[str, ...]:
    """``"a | b c"`` -> ``("a", "b c")``: keeps long name tables compact and readable."""
    return tuple(name.strip() for name in names.split("|"))


#: Tags whose content is not prose.
_DROPPED_TAGS = frozenset(
    _names(
        "math | chem | ce | score | gallery | timeline | syntaxhighlight | source | pre | graph"
        "| mapframe | maplink | templatedata | imagemap | references | table | templatestyles"
        "| hiero | categorytree | inputbox | charinsert | indicator | includeonly | del | s"
        "| strike | style | script"
    )
)
_BLOCK_TAGS = frozenset({"p", "div", "blockquote", "center", "poem", "li", "dd", "dt", "hr"})


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One line of prose with the cleanup markers inside it (offsets into ``text``)."""

    section: str  # nearest heading above, "" for the lead
    text: str
    markers: tuple[tuple[int, str], ...]
    index: int  # 0-based line number in the rendered output


class Output:
    """Accumulates rendered text; joins pieces the way the reader would see them."""

    def __init__(self, section: str = "") -> None:
        self.parts: list[str] = []
        self.size = 0
        self.last = "\n"
        self.markers: list[tuple[int, str]] = []
        self.sections: list[tuple[int, str]] = [(0, section)]

    def text(self, value: str) -> None:
        if "\n" in value:
            lines = value.split("\n")
            for line in lines[:-1]:
                self.text(line)
                self.newline()
            value = lines[-1]
        if not value:
            return
        value = _SPACES.sub(" ", value)
        if "''" in value:
            value = _BOLD_ITALIC.sub("", value)
        if "__" in value:
            value = _MAGIC_WORD.sub("", value)
        # Removed markup leaves doubled spaces, " ." and "()" behind: mend them at the seam.
        if value[:1] == " " and self.last in " \n(":
            value = value[1:]
        while value:
            first = value[0]
            if first == ")" and self.last == "(":
                self._drop_tail()
                value = value[1:].lstrip(" ") if self.last in " \n" else value[1:]
            elif first in _NO_SPACE_BEFORE and self.last == " ":
                self._drop_tail()
            else:
                break
        if not value:
            return
        self.parts.append(value)
        self.size += len(value)
        self.last = value[-1]

    def newline(self) -> None:
        if self.last == " ":
            self._drop_tail()
        self.parts.append("\n")
        self.size += 1
        self.last = "\n"

    def marker(self, label: str) -> None:
        self.markers.append((self.size, label))

    def section(self, title: str) -> None:
        self.newline()
        self.sections.append((self.size, title))

    def _drop_tail(self) -> None:
        last = self.parts[-1]
        if len(last) == 1:
            self.parts.pop()
        else:
            self.parts[-1] = last[:-1]
        self.size -= 1
        self.last = self.parts[-1][-1] if self.parts else "\n"
        markers = self.markers
        i = len(markers) - 1
        while i >= 0 and markers[i][0] > self.size:
            markers[i] = (self.size, markers[i][1])
            i -= 1

    def paragraphs(self) -> Iterator[Paragraph]:
        """Non-blank lines with their section and markers; markers of blank lines are banners."""
        text = "".join(self.parts)
        section_starts = [start for start, _ in self.sections]
        markers = self.markers
        m = 0
        start = 0
        for index, line in enumerate(text.split("\n")):
            end = start + len(line)
            first = m
            while m < len(markers) and markers[m][0] <= end:
                m += 1
            if line and line[0] not in "|!{":  # "|", "!", "{|": table rows that failed to parse
                section = self.sections[bisect_right(section_starts, start) - 1][1]
                own = tuple((off - start, label) for off, label in markers[first:m])
                yield Paragraph(section, line, own, index)
            start = end + 1


class WikiRenderer:
    """Renders one article at a time; holds the caches shared across articles."""

    def __init__(self, taxonomy: Taxonomy, skip_sections: frozenset[str] = frozenset()) -> None:
        self._taxonomy = taxonomy
        self._skip_sections = skip_sections
        self._labels: dict[str, Label | None] = {}

    def render(self, wikitext: str) -> Output:
        """Render an article; ``Output.paragraphs()`` gives the prose lines."""
        out = Output()
        code = mwparserfromhell.parse(wikitext, skip_style_tags=True)
        skip_level = 0  # > 0 while inside a skipped section of that heading level
        for node in code.nodes:
            if type(node) is Heading:
                title = node.title.strip_code().strip()
                if skip_level and node.level > skip_level:
                    continue
                skip_level = node.level if title.lower() in self._skip_sections else 0
                out.section(title)
            elif not skip_level:
                self._node(node, out)
        return out

    # -- nodes -------------------------------------------------------------------------------

    def _code(self, code: Wikicode, out: Output) -> None:
        for node in code.nodes:
            self._node(node, out)

    def _node(self, node: object, out: Output) -> None:
        kind = type(node)
        if kind is Text:
            out.text(node.value)  # type: ignore[attr-defined]
        elif kind is Wikilink:
            self._wikilink(node, out)  # type: ignore[arg-type]
        elif kind is Template:
            self._template(node, out)  # type: ignore[arg-type]
        elif kind is Tag:
            self._tag(node, out)  # type: ignore[arg-type]
        elif kind is HTMLEntity:
            out.text(node.normalize())  # type: ignore[attr-defined]
        elif kind is ExternalLink:
            if not node.brackets:  # type: ignore[attr-defined]
                out.text(str(node.url))  # type: ignore[attr-defined]
            elif node.title:  # type: ignore[attr-defined]
                self._code(node.title, out)  # type: ignore[attr-defined]
        elif kind is Heading:  # only inside tags; treated as a paragraph break
            out.newline()
        # Comment, Argument ({{{1}}}): nothing a reader sees.

    def _wikilink(self, link: Wikilink, out: Output) -> None:
        title = str(link.title).strip()
        if title.startswith(":"):  # [[:Category:X]] is an ordinary visible link
            title = title[1:]
        elif ":" in title:
            prefix = title.split(":", 1)[0].strip().lower()
            if prefix in _SKIPPED_NAMESPACES:
                return
            if link.text is None and _LANGUAGE_PREFIX.fullmatch(prefix):
                return  # interlanguage link, shown in the sidebar
        if link.text is not None and str(link.text).strip():
            self._code(link.text, out)
        else:
            out.text(title)

    def _label(self, name: str) -> Label | None:
        try:
            return self._labels[name]
        except KeyError:
            label = self._labels[name] = self._taxonomy.label_for_template(name)
            return label

    def _template(self, template: Template, out: Output) -> None:
        name = str(template.name).strip()
        label = self._label(name)
        if label is not None:
            if normalize_template_name(name).endswith(" span"):
                # {{clarify span|text=...}} wraps the tagged words, which stay visible.
                param = _param(template, "text") or _param(template, "1")
                if param is not None:
                    self._code(param, out)
            out.marker(label.name)
            return
        handler = _TEXT_TEMPLATES.get(normalize_template_name(name))
        if handler is not None:
            handler(self, template, out)
        elif name[:5].lower() == "lang-":
            self._param_text(template, "1", out)
        # Any other template (infobox, cite, navbox, IPA...) is not prose.

    def _tag(self, tag: Tag, out: Output) -> None:
        name = str(tag.tag).strip().lower()
        if name == "ref":
            if tag.contents is not None and not tag.self_closing:
                for inner in tag.contents.ifilter_templates(recursive=True):
                    label = self._label(str(inner.name).strip())
                    if label is not None and _about_the_reference(label):
                        out.marker(label.name)
            return
        if name in _DROPPED_TAGS:
            return
        if name == "br":
            out.text(" ")
            return
        block = name in _BLOCK_TAGS and tag.wiki_markup is None
        if block:
            out.newline()
        if tag.contents is not None and not tag.self_closing:
            self._code(tag.contents, out)
        if block:
            out.newline()

    def _param_text(self, template: Template, name: str, out: Output) -> None:
        value = _param(template, name)
        if value is not None:
            self._code(value, out)


def _about_the_reference(label: Label) -> bool:
    # A citation problem of the reference itself ({{dead link}}, {{page needed}}) is a sourcing
    # problem of the sentence; a "needs a citation" inside a footnote is about the footnote.
    if label.category != CITATION or label.name == "this quote needs a citation":
        return False
    return label.name == "full citation needed" or not label.name.endswith("citation needed")


def _param(template: Template, name: str) -> Wikicode | None:
    return template.get(name).value if template.has(name) else None


def _positional(template: Template) -> list[Wikicode]:
    return [p.value for p in template.params if not p.showkey]


def _first(renderer: WikiRenderer, template: Template, out: Output) -> None:
    renderer._param_text(template, "1", out)


def _last_positional(renderer: WikiRenderer, template: Template, out: Output) -> None:
    values = _positional(template)
    if values:
        renderer._code(values[-1], out)


def _quote(renderer: WikiRenderer, template: Template, out: Output) -> None:
    renderer._param_text(template, "text" if template.has("text") else "1", out)


def _constant(text: str) -> Callable[[WikiRenderer, Template, Output], None]:
    return lambda renderer, template, out: out.text(text)


def _prefixed(prefix: str) -> Callable[[WikiRenderer, Template, Output], None]:
    def render(renderer: WikiRenderer, template: Template, out: Output) -> None:
        out.text(prefix)
        renderer._param_text(template, "1", out)

    return render


def _convert(renderer: WikiRenderer, template: Template, out: Output) -> None:
    # {{convert|5|km|mi}} -> "5 km"; {{convert|5|to|10|km}} -> "5 to 10 km". The converted
    # value is computed by Lua on Wikipedia; the source quantity is what the sentence states.
    values = [v.strip_code().strip() for v in _positional(template)]
    if len(values) >= 4 and values[1] in {"-", "to", "and", "or", "–", "by", "x", "&", "+/-"}:
        out.text(" ".join(values[:4]))
    else:
        out.text(" ".join(values[:2]))


def _sic(renderer: WikiRenderer, template: Template, out: Output) -> None:
    # Not a cleanup label (see annotation.wikisqe.NON_CLEANUP_LABELS): render as the reader
    # sees it, the quoted word followed by "[sic]" unless hidden.
    values = _positional(template)
    if values:
        renderer._code(values[-1], out)
    if not template.has("hide"):
        out.text(" [sic]" if values else "[sic]")


def _frac(renderer: WikiRenderer, template: Template, out: Output) -> None:
    values = [v.strip_code().strip() for v in _positional(template)]
    if len(values) == 3:
        out.text(f"{values[0]} {values[1]}/{values[2]}")
    elif len(values) == 2:
        out.text(f"{values[0]}/{values[1]}")
    elif values:
        out.text(f"1/{values[0]}")


_TEXT_TEMPLATES: dict[str, Callable[[WikiRenderer, Template, Output], None]] = {
    **dict.fromkeys(
        _names(
            "nowrap | nobr | nobreak | small | smaller | big | larger | em | strong | var"
            "| smallcaps | sc | sc1 | sc2 | mono | abbr | abbrlink | not a typo | notatypo"
            "| as written | ill | interlanguage link | nihongo | visible anchor | vanchor | val"
            "| keypress | serif | sans-serif | highlight | lang-rtl | noitalic | nobold | upright"
            "| script"
        ),
        _first,
    ),
    **dict.fromkeys(("lang", "transl", "transliteration", "linktext"), _last_positional),
    **dict.fromkeys(("quote", "blockquote", "quotation", "cquote", "quote box"), _quote),
    **dict.fromkeys(("convert", "cvt"), _convert),
    "sic": _sic,
    "frac": _frac,
    # Wikipedia shows "c. 1200", but pysbd ends a sentence at "c." before a number.
    **dict.fromkeys(("circa", "c."), _prefixed("circa ")),
    "us$": _prefixed("US$"),
    "as of": _prefixed("As of "),
    "nbsp": _constant(" "),
    **dict.fromkeys(("snd", "spaced ndash", "spaced en dash"), _constant(" – ")),
    "ndash": _constant("–"),
    "mdash": _constant("—"),
    "'": _constant("'"),
    "'s": _constant("'s"),
}
