"""Text in the community: Markdown rendered and sanitised, keywords normalised, teasers."""

from __future__ import annotations

import re
import unicodedata

import nh3
import opencc
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


def sanitise_html(html: str, *, pictures: bool = True) -> str:
    """Only harmless tags and attributes: no script, no event handlers, no javascript: links;
    every link gets rel="nofollow noopener noreferrer". `pictures` False drops images too."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS if pictures else ALLOWED_TAGS - {"img"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(source: str, *, pictures: bool = True) -> str:
    """Markdown as safe HTML (without images when `pictures` is False)."""
    return sanitise_html(_markdown.render(source), pictures=pictures)


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


# Traditional characters read as Simplified (時間 -> 时间): a reader on a Taiwan or Hong Kong
# keyboard means the same word. OpenCC's character and phrase tables, not a map of our own.
_SIMPLIFIED = opencc.OpenCC("t2s")


def folded(text: str) -> str:
    """How the community compares words: NFKC (full-width -> half-width), case folded,
    Traditional -> Simplified. Keywords and search both start here."""
    return str(_SIMPLIFIED.convert(unicodedata.normalize("NFKC", text).casefold()))


def _is_trimmed(char: str) -> bool:
    # Separators, punctuation, symbols and control characters are trimmed from both ends.
    return unicodedata.category(char)[0] in "ZPSC"


def normalise_keyword(text: str) -> str:
    """How keywords are compared: folded (NFKC, case, Traditional -> Simplified),
    punctuation and spaces around it trimmed, spaces inside ignored.

    "  ＡＩ！ " and "ai" are the same keyword; so are "《得到》" and "得到", "终身 学习" and
    "终身学习", "時間" and "时间". A keyword made only of punctuation or symbols ("🎉", "？！")
    keeps them (only spaces go), so it still works.
    """
    text = folded(text)
    start, end = 0, len(text)
    while start < end and _is_trimmed(text[start]):
        start += 1
    while end > start and _is_trimmed(text[end - 1]):
        end -= 1
    if start == end:
        return re.sub(r"\s+", "", text)
    return re.sub(r"\s+", "", text[start:end])
