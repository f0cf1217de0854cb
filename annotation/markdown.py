"""Safe Markdown rendering for guidelines: Markdown → HTML → nh3 sanitising.

Two layers, so that one mistake does not open a hole:

* Markdown runs with its raw-HTML passthrough removed, so ``<script>`` or ``<img onerror=…>``
  typed into a guideline comes out as visible, escaped text rather than markup;
* the HTML is then cleaned by nh3 (ammonia) with an allow-list of tags and attributes and of
  URL schemes, so a ``javascript:`` link loses its ``href``.

Headings get ids (prefixed ``sec-`` so they cannot clobber the page's own ids) and the renderer
returns the heading tree, which the guideline page shows as a table of contents.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import markdown
import nh3
from markdown.extensions import Extension
from markdown.extensions.toc import slugify_unicode

HEADING_PREFIX = "sec-"
URL_SCHEMES = {"http", "https", "mailto"}
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    **{tag: {"id"} for tag in HEADINGS},
}


class _EscapeRawHtml(Extension):
    """Treat raw HTML as text: the documented replacement for Markdown 2's ``safe_mode``."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's API)
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


def _slugify(value: str, separator: str) -> str:
    return HEADING_PREFIX + (slugify_unicode(value, separator) or "section")


@dataclass(frozen=True)
class Heading:
    level: int
    id: str
    name: str  # plain text; templates escape it
    children: list[Heading] = field(default_factory=list)


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: list[Heading]


def _headings(tokens: list[dict]) -> list[Heading]:
    return [
        Heading(t["level"], t["id"], html.unescape(t["name"]), _headings(t["children"]))
        for t in tokens
    ]


def sanitise(raw_html: str) -> str:
    """Clean HTML against the allow-list: no scripts, no event handlers, no unsafe URLs."""
    return nh3.clean(raw_html, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES)


def render(text: str) -> Rendered:
    """Render guideline Markdown to sanitised HTML plus its heading tree."""
    md = markdown.Markdown(
        extensions=["tables", "fenced_code", "sane_lists", "toc", _EscapeRawHtml()],
        extension_configs={"toc": {"slugify": _slugify}},
        output_format="html",
    )
    converted = md.convert(text or "")
    return Rendered(html=sanitise(converted), toc=_headings(md.toc_tokens))


def render_markdown(text: str) -> str:
    """Just the sanitised HTML of *text*."""
    return render(text).html
