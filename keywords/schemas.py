"""The keyword box's API shapes: what a keyword answers, admins' auto-replies, and the lookups
that found nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from community.feed.schemas import FeedItem
from keywords import checks
from keywords.checks import MAX_KEYWORDS, MAX_REPLIES
from keywords.misses import KEEP_DAYS
from keywords.models import KEYWORD_MAX, TEXT_MAX
from web.api import Answer, Body, Id, Query, line, text, whole

NEEDS_ID = [kind.value for kind in checks.NEEDS_ID]  # the reply kinds that name what they are


class RuleKeyword(msgspec.Struct, kw_only=True):
    """A keyword and how it matches: `equal`, the input is the keyword; `contain`, the keyword
    is anywhere in the input. Compared folded: Traditional and Simplified, case, full and
    half width and spaces inside are all the same."""

    text: Annotated[str, line(KEYWORD_MAX, min_length=1)]
    match: Literal["equal", "contain"] = "equal"


class RuleReply(msgspec.Struct, kw_only=True):
    """A reply: `text` with its `text`; `product`, `post` or `feed_item` with the `id` of what
    it names; `window` with neither (the enrollment window open, or next, when asked)."""

    kind: Literal["text", "product", "window", "post", "feed_item"]
    text: Annotated[str, text(TEXT_MAX, min_length=1)] | None = None
    id: Id | None = None


class NewAutoReply(Body):
    """An auto-reply: its `keywords` and its `replies`, answered all in order (`all`) or one at
    random (`random_one`). The server checks what a schema cannot: a keyword is not given
    twice (folded), nor taken by another auto-reply or a live feed item (409 keyword_taken);
    the product, post or feed item a reply names exists (422 invalid_field)."""

    schema_rules: ClassVar[Mapping[str, Any]] = {
        "allOf": [
            {
                "properties": {
                    "replies": {
                        "items": {
                            "allOf": [
                                {
                                    "if": {
                                        "required": ["kind"],
                                        "properties": {"kind": {"const": "text"}},
                                    },
                                    "then": {
                                        "required": ["text"],
                                        "properties": {"text": {"type": "string"}},
                                    },
                                },
                                {
                                    "if": {
                                        "required": ["kind"],
                                        "properties": {"kind": {"enum": NEEDS_ID}},
                                    },
                                    "then": {
                                        "required": ["id"],
                                        "properties": {"id": {"type": "integer"}},
                                    },
                                },
                            ]
                        }
                    }
                }
            }
        ]
    }

    keywords: Annotated[list[RuleKeyword], msgspec.Meta(min_length=1, max_length=MAX_KEYWORDS)]
    replies: Annotated[list[RuleReply], msgspec.Meta(min_length=1, max_length=MAX_REPLIES)]
    mode: Literal["all", "random_one"] = "all"


class AutoReplyCreated(Answer):
    id: int


class AutoReply(Answer):
    id: int
    keywords: list[RuleKeyword]
    replies: list[RuleReply]
    mode: Literal["all", "random_one"]
    hits: int  # lookups it answered
    created_at: str
    updated_at: str


class AutoReplies(Answer):
    items: list[AutoReply]


# What a keyword answers: each reply as a member can use it, with an absolute `url`.


class KeywordText(Answer, tag_field="kind", tag="text"):
    text: str


class KeywordProduct(Answer, tag_field="kind", tag="product"):
    """A product still on sale: `sale` says whether this reader may buy it now, `sold_out`
    whether any is left."""

    id: int
    title: str
    price_fen: int
    url: str
    picture_url: str
    sold_out: bool
    members_only: bool
    sale: Literal["open", "upcoming", "members_only", "raffle", "drawing", "winners_only"]
    sale_opens_at: str | None


class KeywordWindow(Answer, tag_field="kind", tag="window"):
    """The enrollment window open now, or the next one."""

    id: int
    title: str
    price_fen: int
    url: str
    state: Literal["open", "upcoming"]
    seats_left: int
    opens_at: str
    closes_at: str


class KeywordPost(Answer, tag_field="kind", tag="post"):
    id: int
    title: str
    url: str


class KeywordFeedItem(Answer, tag_field="kind", tag="feed_item"):
    """A feed item: `teaser` is what this reader may read of it (a members-only item's teaser
    for everyone else, who see `locked`)."""

    id: int
    title: str
    teaser: str
    url: str
    members_only: bool
    locked: bool


KeywordReply = KeywordText | KeywordProduct | KeywordWindow | KeywordPost | KeywordFeedItem


class KeywordAnswer(Answer):
    """`feed_item`: the feed's live item with this keyword, in the feed's shape (`item`);
    `auto_reply`: an auto-reply's `replies`, in order."""

    kind: Literal["feed_item", "auto_reply"]
    item: FeedItem | msgspec.UnsetType = msgspec.UNSET
    replies: list[KeywordReply] | msgspec.UnsetType = msgspec.UNSET


class MissesQuery(Query):
    days: Annotated[int, whole(1, KEEP_DAYS)] = 7


class KeywordMiss(Answer):
    """A keyword nothing answered: `keyword` folded (empty, with `other`, for the words past a
    day's limit, counted together), `sample` as typed, and whether a rule or a live feed item
    answers it now."""

    keyword: str
    sample: str
    count: int
    last_at: str
    answered: bool
    other: bool


class KeywordMisses(Answer):
    days: int
    items: list[KeywordMiss]
