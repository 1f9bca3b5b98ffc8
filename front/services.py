"""Today on Shuyuan, for one reader: the morning's voice, this week's new and the hottest in
the store, the enrollment window, the next drop, the board's liveliest threads; and, signed in,
the reader's own state. No HTTP in here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from accounts.models import User
from community.board import services as board
from community.board.errors import BoardMembersOnly
from community.board.models import Post
from community.board.permissions import moderates
from community.feed import services as feed
from community.feed.memory import FeedMemory
from front.memory import FrontMemory
from membership import services as membership
from membership.memory import SeatMemory
from store import services as store
from store.models import Order, Product

# How long the shared parts are kept: a reader sees a sale or a seat count this much late at
# most (the pages they lead to say the truth at once).
FRESH_FOR = timedelta(seconds=5)
SHELF = 4  # products in each of the store's rows
THREADS = 5


@dataclass(frozen=True)
class Shared:
    """The front page's parts that are the same for every reader with the same access."""

    voice: feed.ItemView | None  # today's item: whole for members, its teaser for others
    new_this_week: list[Product]
    hottest: list[Product]
    window: membership.WindowView
    next_drop: Product | None
    # What the web layer rendered of these parts, per language and signed-in state: it lives
    # and dies with them (the feed's pages keep theirs the same way).
    rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Mine:
    """What a signed-in reader sees of their own."""

    member_until: datetime | None
    is_member: bool
    order_to_pay: Order | None
    threads: list[Post]  # the board's liveliest, when the reader may read the board


@dataclass(frozen=True)
class Today:
    shared: Shared
    mine: Mine | None


@dataclass(frozen=True)
class Memories:
    front: FrontMemory
    feed: FeedMemory
    seats: SeatMemory


async def today(*, viewer: User | None, now: datetime, memories: Memories) -> Today:
    """The front page for `viewer` (None: a visitor)."""
    access = feed.full_access(viewer, now)

    async def compute() -> Shared:
        return await _shared(access=access, now=now, memories=memories)

    shared = await memories.front.today.get_or_fill(access, now, compute, _until)
    mine = await _mine(viewer, now, memories) if viewer is not None else None
    return Today(shared=shared, mine=mine)


async def _until(filled: datetime) -> datetime:
    return filled + FRESH_FOR


async def _shared(*, access: bool, now: datetime, memories: Memories) -> Shared:
    page = await feed.feed_page(now=now, full_access=access, memory=memories.feed, limit=1)
    return Shared(
        voice=page.items[0] if page.items else None,
        new_this_week=await store.listing(now=now, view="new", limit=SHELF),
        hottest=await store.listing(now=now, view="hot", limit=SHELF),
        window=await membership.window_view(user=None, now=now, memory=memories.seats),
        next_drop=await store.next_drop(now),
    )


async def _mine(viewer: User, now: datetime, memories: Memories) -> Mine:
    threads: list[Post] = []
    if await board.may_read(viewer, now):  # else the board is members' only: no titles
        # The liveliest threads are the same for every reader of the board but moderators
        # (who see hidden posts too): shared for a few seconds, as the rest of the page is.
        async def liveliest() -> list[Post]:
            try:
                return (await board.active_posts(viewer=viewer, now=now, limit=THREADS)).posts
            except BoardMembersOnly:  # closed to non-members while this was read: none
                return []

        threads = await memories.front.threads.get_or_fill(
            ("threads", moderates(viewer)), now, liveliest, _until
        )
    return Mine(
        member_until=viewer.member_until,
        is_member=membership.is_member(viewer, at=now),
        order_to_pay=await store.order_to_pay(viewer, now),
        threads=threads,
    )
