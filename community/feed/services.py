"""The daily feed's rules: writing and scheduling items, who may read what, keyword lookup and
search. The podcast feed (community.feed.podcast) and the counting of views
(community.feed.analytics) are beside it. No HTTP in here."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from tortoise.expressions import Q

import links
from accounts.models import User
from accounts.roles import Capability
from community import cursors, search
from community.feed import analytics
from community.feed.errors import ItemNotFound, MembersOnly, UnknownKeyword
from community.feed.memory import FeedMemory
from community.feed.models import FeedItem
from community.text import normalise_keyword, plain_text, teaser_of
from errors import Unauthorized
from membership.services import is_member

PAGE_SIZE = 10
CACHE_SECONDS = 5.0  # how stale another worker's feed page may be after an edit
SEARCH_KIND = "feed"  # every word of every item, for readers with full access
# What anyone may read: title, keyword and body of an open item; title, keyword and teaser of a
# members-only one. Non-members search only this, so no word past a teaser answers them.
PUBLIC_SEARCH_KIND = "feed_public"
_ITEM_FIELDS = (
    "id", "title", "body", "body_html", "keyword", "members_only", "teaser", "publish_at",
    "audio_file", "audio_type", "audio_bytes", "audio_seconds",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# What readers see


@dataclass(frozen=True)
class ItemView:
    """An item as one reader may see it: `body`/`body_html` are None when it is locked."""

    id: int
    title: str
    keyword: str
    members_only: bool
    publish_at: datetime
    audio_url: str | None
    audio_type: str | None
    audio_bytes: int | None
    audio_seconds: float | None
    body: str | None
    body_html: str | None
    teaser: str
    # What the web layer rendered of this item, per language and signed-in state: it lives and
    # dies with the view (the day's item is kept in the feed's memory: visible_item).
    rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def locked(self) -> bool:
        return self.body_html is None

    @property
    def summary(self) -> str:
        """A line about the item for this reader (the front page, keyword replies): its
        teaser when this reader may not read it, else the start of its text."""
        if self.body_html is None:
            return self.teaser
        text = plain_text(self.body_html)
        return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX].rstrip() + "…"

    @property
    def public_summary(self) -> str:
        """A line about the item for link previews (meta and OpenGraph tags), which leave the
        site whoever shares them: a members-only item's teaser, for members too."""
        return self.teaser if self.members_only else self.summary


def audio_url(audio_file: str | None) -> str | None:
    return links.path("feed.audio", name=audio_file) if audio_file else None


def _view(row: dict[str, Any], full_access: bool) -> ItemView:
    open_to_reader = full_access or not row["members_only"]
    return ItemView(
        id=row["id"],
        title=row["title"],
        keyword=row["keyword"],
        members_only=row["members_only"],
        publish_at=row["publish_at"],
        audio_url=audio_url(row["audio_file"]),
        audio_type=row["audio_type"],
        audio_bytes=row["audio_bytes"],
        audio_seconds=row["audio_seconds"],
        body=row["body"] if open_to_reader else None,
        body_html=row["body_html"] if open_to_reader else None,
        teaser=teaser_of(row["body_html"], row["teaser"]),
    )


def full_access(user: User | None, now: datetime) -> bool:
    """Members (and staff who write the feed) read members-only items in full; everyone else
    sees a teaser."""
    return user is not None and (user.may(Capability.FEED) or is_member(user, at=now))


def _live(now: datetime) -> Q:
    return Q(unpublished=False, publish_at__lte=now)


@dataclass(frozen=True)
class FeedPage:
    items: list[ItemView]
    next_cursor: str | None
    etag: str = ""  # changes whenever anything shown on the page changes
    # What the web layer rendered of this page, per locale: it lives and dies with the page.
    rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


KEYWORD_MAX = 40  # FeedItem.keyword and live_keyword
AUDIO_NAME_MAX = 80  # FeedItem.audio_file: a longer name is no file, and is not remembered
SUMMARY_MAX = 140


def encode_cursor(publish_at: datetime, item_id: int) -> str:
    return cursors.moment_cursor(publish_at, item_id)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (publish time, id) a feed cursor continues from; ValidationError("cursor")."""
    return cursors.read_moment_cursor(cursor)


async def _valid_until(memory: FeedMemory, now: datetime) -> datetime:
    """Until when an answer computed at `now` stays right: CACHE_SECONDS (less up to 40% at
    random, so that answers do not all run out at once), never past the publish time of the
    next scheduled item."""
    checked = memory.horizon[0] if memory.horizon else None
    if checked is None or not checked[0] <= now < checked[0] + timedelta(seconds=CACHE_SECONDS):
        found = await (
            FeedItem.filter(
                unpublished=False,
                publish_at__gt=now,
                publish_at__lt=now + timedelta(seconds=2 * CACHE_SECONDS),
            )
            .order_by("publish_at")
            .first()
            .values_list("publish_at", flat=True)
        )
        checked = (now, cast(datetime | None, found))
        memory.horizon[:] = [checked]
    ttl = now + timedelta(seconds=CACHE_SECONDS * (1 - 0.4 * random.random()))  # nosec B311  # cache jitter, not a secret
    next_publish = checked[1]
    return min(ttl, next_publish) if next_publish is not None and next_publish > now else ttl


async def feed_page(
    *,
    now: datetime,
    full_access: bool,
    memory: FeedMemory,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> FeedPage:
    """Published live items, newest first, `limit` per page; the cursor continues a page.
    The same for every reader of one kind: answered from `memory` for a few seconds."""
    if cursor:
        decode_cursor(cursor)  # a bad cursor is refused before anything is cached

    async def compute() -> FeedPage:
        query = FeedItem.filter(_live(now))
        if cursor:
            at, item_id = decode_cursor(cursor)
            query = query.filter(Q(publish_at__lt=at) | Q(publish_at=at, id__lt=item_id))
        rows = await query.order_by("-publish_at", "-id").limit(limit + 1).values(*_ITEM_FIELDS)
        items = [_view(row, full_access) for row in rows[:limit]]
        next_cursor = (
            encode_cursor(items[-1].publish_at, items[-1].id) if len(rows) > limit else None
        )
        fingerprint = hashlib.sha256(repr((items, next_cursor, full_access)).encode())
        return FeedPage(items=items, next_cursor=next_cursor, etag=fingerprint.hexdigest()[:32])

    page = await memory.answers.get_or_fill(
        ("page", cursor, full_access, limit), now, compute, partial(_valid_until, memory)
    )
    return cast(FeedPage, page)


async def visible_item(
    item_id: int,
    *,
    now: datetime,
    full_access: bool,
    admin: bool = False,
    memory: FeedMemory | None = None,
) -> ItemView:
    """One item as this reader sees it; scheduled and unpublished ones only for admins. The
    same for every reader of one kind: a live item is answered from `memory`, when given, as
    the feed's pages are (the morning's item is what everyone opens at 07:00)."""

    async def compute() -> ItemView:
        query = FeedItem.filter(id=item_id)
        if not admin:
            query = query.filter(_live(now))
        row = await query.first().values(*_ITEM_FIELDS)
        if row is None:
            raise ItemNotFound()  # raised, not remembered: a crawler's misses fill no memory
        return _view(row, full_access or admin)

    if memory is None or admin:
        return await compute()
    view: ItemView = await memory.answers.get_or_fill(
        ("item", item_id, full_access), now, compute, partial(_valid_until, memory)
    )
    return view


@dataclass(frozen=True)
class KeywordHolder:
    """The feed item that has a keyword: published, or scheduled to be."""

    item_id: int
    title: str


async def keywords_taken(keys: Collection[str]) -> dict[str, KeywordHolder]:
    """Which of the folded keywords `keys` a feed item has, live or scheduled (an unpublished
    item frees its keyword; a scheduled one holds it from the moment it is saved), by key.
    Other packages ask here rather than read FeedItem's columns."""
    wanted = [key for key in keys if key and len(key) <= KEYWORD_MAX]  # a longer one is no item's
    if not wanted:
        return {}
    rows = await FeedItem.filter(live_keyword__in=wanted).values("id", "title", "live_keyword")
    return {row["live_keyword"]: KeywordHolder(row["id"], row["title"]) for row in rows}


async def latest_keyword(now: datetime) -> str | None:
    """The newest live item's keyword, offered as a hint after an unknown keyword."""
    keyword = await (
        FeedItem.filter(_live(now))
        .order_by("-publish_at", "-id")
        .first()
        .values_list("keyword", flat=True)
    )
    return cast(str | None, keyword)


async def lookup(
    keyword: str,
    *,
    now: datetime,
    full_access: bool,
    memory: FeedMemory,
    user_id: int | None = None,
    count: bool = True,
) -> ItemView:
    """The live item whose keyword matches (NFKC, case, spaces and punctuation ignored),
    its lookup counted unless `count` is false (an admin trying a word).
    UnknownKeyword carries `hint`, the latest item's keyword."""
    key = normalise_keyword(keyword)

    async def compute() -> ItemView | tuple[str, str | None]:
        row = await FeedItem.filter(_live(now), live_keyword=key).first().values(*_ITEM_FIELDS)
        return _view(row, full_access) if row else ("unknown", await latest_keyword(now))

    if key and len(key) <= KEYWORD_MAX:  # a longer one is no item's: no need to look
        found = await memory.answers.get_or_fill(
            ("lookup", key, full_access), now, compute, partial(_valid_until, memory)
        )
    else:
        found = ("unknown", await latest_keyword(now))
    if isinstance(found, tuple):
        raise UnknownKeyword(hint=found[1])
    assert isinstance(found, ItemView)
    if count:
        analytics.record(memory, found.id, "lookups", user_id=user_id, now=now)
    return found


async def search_items(
    query: str, *, now: datetime, full_access: bool, limit: int = 20
) -> list[ItemView]:
    """Live items matching every word of `query` (Chinese cut into words), newest first."""
    ids = await search.search(SEARCH_KIND if full_access else PUBLIC_SEARCH_KIND, query)
    if not ids:
        return []
    rows = (
        await FeedItem.filter(_live(now), id__in=list(ids))
        .order_by("-publish_at", "-id")
        .limit(limit)
        .values(*_ITEM_FIELDS)
    )
    return [_view(row, full_access) for row in rows]


# ---------------------------------------------------------------------------------------------
# Writing items (admins)


# ---------------------------------------------------------------------------------------------
# Audio


async def audio_for_listener(
    name: str, *, user: User | None, now: datetime, memory: FeedMemory | None = None
) -> FeedItem:
    """The item a live audio file belongs to (admins: any), if this listener may hear it:
    members-only audio goes to members (and admins) only; a live one's item is answered from
    `memory` when given (every player asks again for each range it plays). Raises
    ItemNotFound, Unauthorized (nobody signed in) or MembersOnly (signed in, not a member)."""
    admin = user is not None and user.may(Capability.FEED)

    async def compute() -> FeedItem:
        query = FeedItem.filter(audio_file=name)
        if not admin:
            query = query.filter(_live(now))
        found = await query.first()
        if found is None:
            raise ItemNotFound("No such audio.")  # raised, not remembered (as visible_item)
        return found

    if memory is None or admin or len(name) > AUDIO_NAME_MAX:
        item = await compute()
    else:
        item = await memory.answers.get_or_fill(
            ("audio", name), now, compute, partial(_valid_until, memory)
        )
    if item.members_only and not full_access(user, now):
        if user is None:
            raise Unauthorized("Sign in as a member to listen.")
        raise MembersOnly("This audio is for members only.")
    return item
