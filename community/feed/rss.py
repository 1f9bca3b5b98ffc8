"""A person's podcast feed as RSS 2.0 with Apple's podcast tags: what Apple Podcasts asks of a
show (artwork, owner, category, explicit, each episode's enclosure with its length and type)
and what other podcast apps read (atom:link rel="self", languages, full descriptions).

Every text and attribute is escaped here (saxutils); a description is HTML written as escaped
text, as RSS carries it. Every address is built on the public URL (links), never on the Host
a request came with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr  # nosec B406  # escapes text for the RSS we write; parses nothing

import links
from community.feed.services import ItemView
from community.text import plain_text
from translation import translations

TITLE = "书院 · 每日六十秒"
DESCRIPTION = (
    "书院每天早上的六十秒语音与关键词文章：一段语音，一个关键词，一篇文章。"
    "Shuyuan's sixty-second morning voice, with the day's keyword and its article."
)
AUTHOR = "书院 Shuyuan"
LANGUAGE = "zh-cn"  # the feed's items are written in Chinese, whoever reads them
# Apple Podcasts' category and subcategory, spelled as its list spells them.
CATEGORY = ("Education", "Self-Improvement")
# Apple Podcasts shows at most this many characters of a description.
DESCRIPTION_MAX = 4000
NAMESPACES = (
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
    'xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)


@dataclass(frozen=True)
class Listener:
    """Whose feed it is: its token (in its own address and in its audio links) and the
    language its notes are written in (what it may read is in its items already)."""

    token: str
    locale: str


def podcast_rss(
    items: list[ItemView],
    listener: Listener,
    *,
    owner: tuple[str, str],
    artwork_url: str,
    now: datetime,
) -> str:
    """The feed: `items` as the listener may read them (a members-only item they may not read
    shows its teaser and no audio), newest first."""
    owner_name, owner_email = owner
    updated = items[0].publish_at if items else now
    feed_url = links.absolute_with_token("feed.podcast_rss", listener.token)
    site = links.absolute("feed.feed")
    category, subcategory = CATEGORY
    channel = [
        f"<title>{escape(TITLE)}</title>",
        f"<link>{escape(site)}</link>",
        f'<atom:link href={quoteattr(feed_url)} rel="self" type="application/rss+xml"/>',
        f"<description>{escape(DESCRIPTION)}</description>",
        f"<language>{LANGUAGE}</language>",
        f"<copyright>© {escape(AUTHOR)}</copyright>",
        f"<lastBuildDate>{_date(updated)}</lastBuildDate>",
        f"<image><url>{escape(artwork_url)}</url><title>{escape(TITLE)}</title>"
        f"<link>{escape(site)}</link></image>",
        f"<itunes:image href={quoteattr(artwork_url)}/>",
        f"<itunes:author>{escape(AUTHOR)}</itunes:author>",
        f"<itunes:summary>{escape(DESCRIPTION)}</itunes:summary>",
        f"<itunes:owner><itunes:name>{escape(owner_name)}</itunes:name>"
        f"<itunes:email>{escape(owner_email)}</itunes:email></itunes:owner>",
        f"<itunes:category text={quoteattr(category)}>"
        f"<itunes:category text={quoteattr(subcategory)}/></itunes:category>",
        "<itunes:explicit>false</itunes:explicit>",
        "<itunes:type>episodic</itunes:type>",
        # A private feed: directories must not list it (it carries its reader's token).
        "<itunes:block>Yes</itunes:block>",
    ]
    body = "".join(channel) + "".join(_item(item, listener) for item in items)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<rss version="2.0" {NAMESPACES}><channel>{body}</channel></rss>'
    )


def _item(item: ItemView, listener: Listener) -> str:
    html, text = _description(item, listener.locale)
    parts = [
        "<item>",
        f"<title>{escape(item.title)}</title>",
        f"<link>{escape(links.absolute('feed.item_page', id=item.id))}</link>",
        # The same for every reader and after every token reset: apps know an episode by it.
        f'<guid isPermaLink="false">shuyuan-feed-{item.id}</guid>',
        f"<pubDate>{_date(item.publish_at)}</pubDate>",
        f"<description>{escape(html)}</description>",
        f"<itunes:summary>{escape(text)}</itunes:summary>",
        f"<dc:language>{LANGUAGE}</dc:language>",
        f"<itunes:author>{escape(AUTHOR)}</itunes:author>",
        "<itunes:episodeType>full</itunes:episodeType>",
        "<itunes:explicit>false</itunes:explicit>",
    ]
    if item.audio_url and not item.locked:
        enclosure = links.join(item.audio_url) + f"?token={listener.token}"
        parts.append(
            f'<enclosure url={quoteattr(enclosure)} length="{item.audio_bytes or 0}" '
            f"type={quoteattr(item.audio_type or 'audio/mpeg')}/>"
        )
        parts.append(f"<itunes:duration>{round(item.audio_seconds or 0)}</itunes:duration>")
    parts.append("</item>")
    return "".join(parts)


def _description(item: ItemView, locale: str) -> tuple[str, str]:
    """What the listener may read of the item, as HTML and as plain text: all of it, as the
    item's page shows it (past DESCRIPTION_MAX, its text cut there), or for a members-only
    item they may not read, its teaser and the page's note."""
    if item.body_html is None:
        _ = translations(locale).gettext
        note = _("This item is for members.")
        window = quoteattr(links.absolute("membership.window_page"))
        html = (
            f"<p>{escape(item.teaser)}</p>"
            f"<p>🔒 {escape(note)} <a href={window}>{escape(_('Become a member'))}</a></p>"
        )
        return html, f"{item.teaser} 🔒 {note}"
    text = plain_text(item.body_html)
    if len(text) > DESCRIPTION_MAX:
        text = text[: DESCRIPTION_MAX - 1].rstrip() + "…"
    return (item.body_html if len(item.body_html) <= DESCRIPTION_MAX else escape(text)), text


def _date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)
