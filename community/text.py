"""Text in the community: Markdown rendered and sanitised, keywords normalised, teasers."""

from __future__ import annotations

import re
import unicodedata

import nh3
from markdown_it import MarkdownIt

# CommonMark without raw HTML; whatever still gets through is cleaned by nh3 (ammonia).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable("table").enable("strikethrough")

ALLOWED_TAGS = {
    "a", "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "img",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitise_html(html: str) -> str:
    """Only harmless tags and attributes: no script, no event handlers, no javascript: links;
    every link gets rel="nofollow noopener noreferrer"."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Markdown as safe HTML."""
    return sanitise_html(_markdown.render(source))


def plain_text(html: str) -> str:
    """The words of some HTML, tags dropped, whitespace collapsed."""
    text = nh3.clean(html, tags=set())
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    text = text.replace("&#39;", "'").replace("&amp;", "&")
    return re.sub(r"\s+", " ", text).strip()


TEASER_MAX = 80
TEASER_SHARE = 3  # a teaser cut from the body is at most a third of it


def teaser_of(html: str, written: str = "") -> str:
    """What a non-member reads of a members-only item: the teaser its admin wrote, else the
    body's first characters, at most TEASER_MAX and at most a third of it, so that the end of
    the text is never given away (a two-line note under a voice shows a few words, not all)."""
    if written.strip():
        return written.strip()
    text = plain_text(html)
    length = min(TEASER_MAX, len(text) // TEASER_SHARE)
    if length < 2:
        return ""
    return text[:length].rstrip() + "…"


def _is_trimmed(char: str) -> bool:
    # Separators, punctuation, symbols and control characters are trimmed from both ends.
    return unicodedata.category(char)[0] in "ZPSC"


def normalise_keyword(text: str) -> str:
    """How keywords are compared: NFKC (full-width -> half-width), case folded, spaces and
    punctuation around it trimmed, spaces inside collapsed to one.

    "  ＡＩ！ " and "ai" are the same keyword; so are "《得到》" and "得到". A keyword made only
    of punctuation or symbols ("🎉", "？！") keeps them (only spaces go), so it still works.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    start, end = 0, len(folded)
    while start < end and _is_trimmed(folded[start]):
        start += 1
    while end > start and _is_trimmed(folded[end - 1]):
        end -= 1
    if start == end:
        return re.sub(r"\s+", " ", folded.strip())
    return re.sub(r"\s+", " ", folded[start:end])
