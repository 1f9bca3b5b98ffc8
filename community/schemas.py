"""The community API's declared shapes: the daily feed and the member board."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from community import board, cursors
from web.api import Answer, Body, Id, Moment, Query, line, text, whole

Cursor = Annotated[str, msgspec.Meta(pattern=cursors.CURSOR_PATTERN)]  # the board's
FeedCursor = Annotated[str, msgspec.Meta(pattern=cursors.MOMENT_CURSOR_PATTERN)]
Search = Annotated[str, line(100)]

# --- the feed --------------------------------------------------------------------------------


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


# --- the board -------------------------------------------------------------------------------

Category = Annotated[str, line(30, min_length=1)]


class NewPost(Body):
    category: Category
    title: Annotated[str, line(board.TITLE_MAX, min_length=1)]
    body: Annotated[str, text(board.BODY_MAX, min_length=1, description="Markdown")]


class PostEdit(Body):
    title: Annotated[str, line(board.TITLE_MAX, min_length=1)]
    body: Annotated[str, text(board.BODY_MAX, min_length=1)]
    category: Category | None = None


class NewReply(Body):
    body: Annotated[str, text(board.REPLY_MAX, min_length=1)]


class NewReport(Body):
    reason: Annotated[str, text(board.REASON_MAX, min_length=1)]


class Ban(Body):
    user_id: Id
    days: Annotated[int, whole(0, 3650)]
    reason: Annotated[str, line(200)] = ""


class Like(Body):
    liked: bool = True


class PostsQuery(Query):
    sort: Literal["new", "active"] = "new"
    category: Annotated[str, line(30)] | None = None
    q: Search | None = None
    cursor: Cursor | None = None


class Author(Answer):
    id: int
    display_name: str


class Reply(Answer):
    id: int
    body_html: str
    author: Author
    created_at: str


class Post(Answer):
    id: int
    category: str
    title: str
    body_html: str
    author: Author
    created_at: str
    edited_at: str | None
    reply_count: int
    like_count: int
    pinned: bool
    locked: bool
    hidden: bool


class PostWithReplies(Post):
    body: str
    replies: list[Reply]


class Posts(Answer):
    items: list[Post]
    next_cursor: str | None


class Liked(Answer):
    id: int
    like_count: int


class Reported(Answer):
    id: int


class Banned(Answer):
    user_id: int
    until: str


class ReportItem(Answer):
    id: int
    post_id: int
    post_title: str
    reporter_id: int
    reason: str
    created_at: str


class Reports(Answer):
    items: list[ReportItem]
