"""The member board API's declared shapes."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from community import cursors
from community.board import services as board
from web.api import Answer, Body, Id, Query, line, text, whole

Cursor = Annotated[str, msgspec.Meta(pattern=cursors.CURSOR_PATTERN)]
IpRegion = Annotated[
    str | None,
    msgspec.Meta(
        description=(
            "IP属地: the province (广东, 北京, 内蒙古) or, outside the mainland, the "
            "country (美国; 中国香港, 中国澳门, 中国台湾) of the address it was written "
            "from, never the address; an edit keeps it. null: not placed (a private "
            "address, IPv6) or written before"
        )
    ),
]
Search = Annotated[str, line(100)]

Category = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=30,
        pattern=board.CATEGORY_PATTERN,
        description=(
            "The slug of one of the board's categories: the built-in "
            f"{', '.join(board.BUILT_IN_CATEGORIES)}, and those moderators add in the "
            "console's board section. The API has no endpoint that lists them; another slug "
            "is 422 invalid_field"
        ),
    ),
]


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


class PersonQuery(Query):
    """The console's board page: `q` finds a person to ban (an email, a name, a number)."""

    q: Search | None = None


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


PENDING = msgspec.Meta(
    description="held by a watched word until a moderator approves it: shown to its author "
    "and the moderators only"
)


class Reply(Answer):
    id: int
    body_html: str
    author: Author
    created_at: str
    pending_review: Annotated[bool, PENDING]
    ip_region: IpRegion


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
    pending_review: Annotated[bool, PENDING]
    ip_region: IpRegion


class PostWithReplies(Post):
    body: str
    replies: list[Reply]


class Posts(Answer):
    items: list[Post]
    next_cursor: str | None


class Liked(Answer):
    id: int
    like_count: int


class PendingReview(Answer):
    """A post, reply or edit held by a watched word: kept, and shown once a moderator approves
    it (its author is told either way)."""

    id: int
    status: Literal["pending_review"]


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
