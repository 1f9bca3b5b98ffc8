"""The keyword box: what a member gets for a word typed into it. No HTTP in here.

One entry, `answer`: the input is folded as keywords are (Traditional -> Simplified, case,
full/half width, spaces inside ignored), then
1. the feed's live item whose keyword is the input wins (the daily keyword wins every tie);
2. else the rule with an `equal` keyword that is the input (both with punctuation around
   them trimmed: community.text.normalise_keyword);
3. else the rules whose `contain` keywords are in the input (nothing trimmed:
   keywords.matching.contain_key), the longest keyword first, then the oldest rule;
and the first of them that still has a reply to give answers (keywords.replies: a product no
longer on sale, a post hidden, the window closed are skipped). Else the miss is counted
(keywords.misses) and UnknownKeyword says so, with today's keyword as a hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts.models import User
from community.feed import services as feed
from community.feed.errors import UnknownKeyword
from community.feed.memory import FeedMemory
from community.feed.services import ItemView
from community.text import normalise_keyword
from keywords import misses
from keywords.matching import rule_book
from keywords.memory import KeywordMemory
from keywords.replies import Reader, Reply, replies_of
from membership.memory import SeatMemory


@dataclass(frozen=True)
class Memories:
    """The worker's memories an answer reads: the rules, the feed's answers, the seats."""

    keywords: KeywordMemory
    feed: FeedMemory
    seats: SeatMemory | None = None

    @classmethod
    def of(cls, worker: Any) -> Memories:
        """Those of the worker's memory (app.state.memory, a jobs.worker.WorkerMemory: named
        here by what it holds, since jobs stands above this package)."""
        return cls(keywords=worker.keywords, feed=worker.feed, seats=worker.seats)


@dataclass(frozen=True)
class FeedAnswer:
    """The feed's live item with this keyword, as this reader may read it."""

    item: ItemView


@dataclass(frozen=True)
class RuleAnswer:
    """An auto-reply's answer: its replies as this reader can use them, in order."""

    rule_id: int
    replies: list[Reply]


async def answer(
    keyword: str,
    *,
    now: datetime,
    reader: User | None,
    memories: Memories,
    count: bool = True,
) -> FeedAnswer | RuleAnswer:
    """What the keyword box answers `keyword` for `reader` (None: a visitor), in the order the
    module says. Counts the feed item's lookup, or the rule's hit, or the miss, unless
    `count` is false (an admin trying a word). Raises UnknownKeyword (its `hint`: the latest
    feed keyword) when nothing answers."""
    access = feed.full_access(reader, now)
    try:
        item = await feed.lookup(
            keyword,
            now=now,
            full_access=access,
            memory=memories.feed,
            user_id=reader.id if reader else None,
            count=count,
        )
        return FeedAnswer(item)
    except UnknownKeyword as missed:
        hint = missed.details.get("hint")
    key = normalise_keyword(keyword)
    if key:
        book = await rule_book(memories.keywords, now)
        asker = Reader(user=reader, full_access=access)
        for rule in book.candidates(keyword):
            replies = await replies_of(rule, reader=asker, now=now, seats=memories.seats)
            if replies:
                if count:  # written by keywords.tasks, every few seconds
                    memories.keywords.hits[rule.id] += 1
                return RuleAnswer(rule_id=rule.id, replies=replies)
        if count:
            misses.record(memories.keywords, keyword, now=now)
    raise UnknownKeyword(hint=hint)
