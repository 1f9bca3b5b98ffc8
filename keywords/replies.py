"""A rule's replies as a member can use them, looked up at the moment of the answer: a text; a
product still on sale (its price, whether it is sold out); the enrollment window now open or
next (its seats left); a board post still shown, to who may read the board; a feed item as
this reader may read it (a members-only item's teaser for everyone else). A reply whose thing
is gone is skipped."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import links
from accounts.models import User
from community.board import services as board
from community.board.models import Post
from community.feed import services as feed
from community.feed.errors import ItemNotFound
from keywords.matching import Rule, StoredReply
from keywords.models import ReplyKind, ReplyMode
from membership import services as membership
from membership.errors import NoWindow
from membership.memory import SeatMemory
from membership.windows import WindowState, closing_time, seats_left, window_state
from store import services as store
from store.covers import cover_url
from store.images import image_url
from store.models import Product
from store.sale import SaleState, sale_for

# A product in one of these states is no longer on sale to anyone: its reply is skipped.
GONE = (SaleState.UNPUBLISHED, SaleState.ENDED)


@dataclass(frozen=True)
class TextReply:
    kind: ClassVar[ReplyKind] = ReplyKind.TEXT
    text: str


@dataclass(frozen=True)
class ProductReply:
    kind: ClassVar[ReplyKind] = ReplyKind.PRODUCT
    id: int
    title: str
    price_fen: int
    path: str
    picture: str  # a thumbnail's path
    sold_out: bool
    members_only: bool
    state: SaleState  # for this reader: open, upcoming (see sale_opens_at), members only, ...
    sale_opens_at: datetime | None


@dataclass(frozen=True)
class WindowReply:
    kind: ClassVar[ReplyKind] = ReplyKind.WINDOW
    id: int
    title: str
    price_fen: int
    path: str
    state: WindowState  # open or upcoming (a closed window is no answer)
    seats_left: int
    opens_at: datetime
    closes_at: datetime


@dataclass(frozen=True)
class PostReply:
    kind: ClassVar[ReplyKind] = ReplyKind.POST
    id: int
    title: str
    path: str


@dataclass(frozen=True)
class FeedItemReply:
    kind: ClassVar[ReplyKind] = ReplyKind.FEED_ITEM
    id: int
    title: str
    teaser: str  # what this reader may read of it: a members-only item's teaser for others
    path: str
    members_only: bool
    locked: bool  # a members-only item this reader may not read in full


Reply = TextReply | ProductReply | WindowReply | PostReply | FeedItemReply


@dataclass(frozen=True)
class Reader:
    """Who asks: the person (None: a visitor), and whether they read members-only items."""

    user: User | None
    full_access: bool


async def _product(product_id: int, reader: Reader, now: datetime) -> ProductReply | None:
    product = await Product.get_or_none(id=product_id)
    if product is None:
        return None
    sale = await sale_for(product, reader.user, now)  # what the product page shows them
    if sale.state in GONE:
        return None
    picture = image_url(product.image, "thumb") or cover_url(product.id, "thumb")
    return ProductReply(
        id=product.id,
        title=product.title,
        price_fen=product.price_fen,
        path=links.path("store.product_page", id=product.id),
        picture=picture,
        sold_out=await store.stock_left(product) == 0,
        members_only=product.members_only,
        state=sale.state,
        sale_opens_at=sale.opens_at,
    )


async def _window(now: datetime, seats: SeatMemory | None) -> WindowReply | None:
    try:
        window = await membership.current_window(now=now, memory=seats)
    except NoWindow:
        return None
    state = window_state(window, now)
    if state == WindowState.CLOSED:  # the last one, closed: no window to join
        return None
    return WindowReply(
        id=window.id,
        title=window.name,
        price_fen=window.price_fen,
        path=links.path("membership.window_page"),
        state=state,
        seats_left=await seats_left(window, now=now),
        opens_at=window.opens_at,
        closes_at=closing_time(window),
    )


async def _post(post_id: int, reader: Reader, now: datetime) -> PostReply | None:
    # The board's own read rule: signed in, and a member when it is members-only. A post's
    # title is a member's words; who may not read the board does not see it here either.
    if reader.user is None or not await board.may_read(reader.user, now):
        return None
    post = await Post.get_or_none(id=post_id, deleted=False, hidden=False)
    if post is None:
        return None
    return PostReply(id=post.id, title=post.title, path=links.path("board.post_page", id=post.id))


async def _feed_item(item_id: int, reader: Reader, now: datetime) -> FeedItemReply | None:
    try:
        item = await feed.visible_item(item_id, now=now, full_access=reader.full_access)
    except ItemNotFound:  # unpublished, or not yet out
        return None
    return FeedItemReply(
        id=item.id,
        title=item.title,
        teaser=item.summary,
        path=links.path("feed.item_page", id=item.id),
        members_only=item.members_only,
        locked=item.locked,
    )


async def resolve(
    stored: StoredReply, *, reader: Reader, now: datetime, seats: SeatMemory | None = None
) -> Reply | None:
    """One stored reply as this reader can use it now; None when its thing is gone."""
    if stored.kind == ReplyKind.TEXT:
        return TextReply(stored.text or "")
    if stored.kind == ReplyKind.WINDOW:
        return await _window(now, seats)
    target = stored.target_id or 0
    if stored.kind == ReplyKind.PRODUCT:
        return await _product(target, reader, now)
    if stored.kind == ReplyKind.POST:
        return await _post(target, reader, now)
    return await _feed_item(target, reader, now)


async def replies_of(
    rule: Rule, *, reader: Reader, now: datetime, seats: SeatMemory | None = None
) -> list[Reply]:
    """What `rule` answers: every reply that can still be used, in order (mode all), or one
    of them at random (random_one: chosen among those that can, so a product that ended is
    never the one drawn). Empty when none can."""
    if rule.mode == ReplyMode.RANDOM_ONE:
        order = random.sample(rule.replies, len(rule.replies))  # nosec B311  # not a secret
        for stored in order:
            reply = await resolve(stored, reader=reader, now=now, seats=seats)
            if reply is not None:
                return [reply]
        return []
    found = [await resolve(stored, reader=reader, now=now, seats=seats) for stored in rule.replies]
    return [reply for reply in found if reply is not None]
