"""The daily feed API's declared shapes, and the one writer of a feed item's JSON (item_json),
public for the other packages that answer with a feed item (the keyword box)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from community import cursors
from community.feed.services import ItemView
from web.api import Answer, Body, Moment, Query, iso, line, text

FeedCursor = Annotated[str, msgspec.Meta(pattern=cursors.MOMENT_CURSOR_PATTERN)]
Search = Annotated[str, line(100)]


class NewFeedItem(Body):
    title: Annotated[str, line(120, min_length=1)]
    body: Annotated[str, text(50_000, min_length=1, description="Markdown")]
    keyword: Annotated[str, line(40, min_length=1)]
    members_only: bool = False
    teaser: Annotated[str, line(300, description="what non-members read")] = ""
    publish_at: Moment | None = None  # omitted: publish now


FEED_ITEM_UPLOAD = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 120},
        "body": {"type": "string", "minLength": 1, "maxLength": 50_000},
        "keyword": {"type": "string", "minLength": 1, "maxLength": 40},
        "members_only": {"type": "string", "enum": ["true", "false"]},
        "teaser": {"type": "string", "maxLength": 300},
        "audio": {"type": "string", "format": "binary"},
    },
    "required": ["title", "body", "keyword"],
}


class FeedQuery(Query):
    cursor: FeedCursor | None = None


class LookupQuery(Query):
    keyword: Annotated[str, line(100)]


class KeywordQuery(Query):
    """The keyword box's page: an empty keyword shows the box."""

    keyword: Annotated[str, line(100)] = ""


class PodcastTokenQuery(Query):
    token: Annotated[str, line(200)] | None = None


class SearchQuery(Query):
    q: Search = ""


class FeedItem(Answer):
    id: int
    title: str
    keyword: str
    members_only: bool
    publish_at: str
    audio_url: str | None
    audio_seconds: float | None
    teaser: str | msgspec.UnsetType = msgspec.UNSET
    body: str | msgspec.UnsetType = msgspec.UNSET
    body_html: str | msgspec.UnsetType = msgspec.UNSET


def item_json(item: ItemView) -> dict[str, Any]:
    """An item as a reader may see it, in the shape of FeedItem: its teaser when it is
    locked to this reader, else its body."""
    data: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "keyword": item.keyword,
        "members_only": item.members_only,
        "publish_at": iso(item.publish_at),
        "audio_url": item.audio_url,
        "audio_seconds": item.audio_seconds,
    }
    if item.locked:
        data["teaser"] = item.teaser
    else:
        data["body"] = item.body
        data["body_html"] = item.body_html
    return data


class FeedPage(Answer):
    items: list[FeedItem]
    next_cursor: str | None


class FeedItems(Answer):
    items: list[FeedItem]


class AdminFeedItem(Answer):
    id: int
    title: str
    keyword: str
    members_only: bool
    publish_at: str
    audio_url: str | None
    audio_seconds: float | None
    teaser: str
    unpublished: bool
    views: int
    plays: int
    lookups: int


class AdminFeedItems(Answer):
    items: list[AdminFeedItem]
