"""What one worker remembers of the daily feed between requests, in one object the app builds."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tallies import Tally

STALE = timedelta(seconds=1)
MAX_ANSWERS = 10_000

Compute = Callable[[], Awaitable[Any]]
Until = Callable[[datetime], Awaitable[datetime]]


class Answers:
    """Answers that are the same for every reader (a feed page, a keyword's item).

    An entry filled at `now` holds until the time `until(now)` gives (the feed's services: a
    few seconds, never past the next scheduled item); any write in this worker empties it at
    once. An entry that ran out less than STALE ago is still answered while one task refills
    it in the background; older or missing entries are filled by one request while the
    others wait for its answer.
    """

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[datetime, datetime, Any]] = {}
        self._filling: dict[Any, asyncio.Future[Any]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        # Raised by clear(): a fill begun before it may have read what the change replaced,
        # so its answer goes to the readers already waiting for it, and is not kept.
        self._generation = 0

    async def get_or_fill(self, key: Any, now: datetime, compute: Compute, until: Until) -> Any:
        entry = self._entries.get(key)
        if entry is not None:
            filled_at, valid_until, value = entry
            if filled_at <= now < valid_until:
                return value
            if valid_until <= now < valid_until + STALE:
                if key not in self._filling:
                    self._start_fill(key, now, compute, until)
                return value
        pending = self._filling.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        return await self._fill(key, now, compute, until)

    def _start_fill(self, key: Any, now: datetime, compute: Compute, until: Until) -> None:
        # The refill is registered before its task first runs: a second reader of the stale
        # entry in between sees it under way and starts no other.
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._filling[key] = future
        task = asyncio.create_task(self._fill(key, now, compute, until, future))
        self._background.add(task)  # a reference, so the running task is not collected
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def _fill(
        self,
        key: Any,
        now: datetime,
        compute: Compute,
        until: Until,
        future: asyncio.Future[Any] | None = None,
    ) -> Any:
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._filling[key] = future
        generation = self._generation
        try:
            value = await compute()
            if generation == self._generation:
                self.put(key, now, await until(now), value)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            if self._filling.get(key) is future:  # only its own: never another fill's
                del self._filling[key]

    def put(self, key: Any, now: datetime, valid_until: datetime, value: Any) -> None:
        if len(self._entries) > MAX_ANSWERS:
            self._entries.clear()
        self._entries[key] = (now, valid_until, value)

    def clear(self) -> None:
        """Forget every answer (something changed): readers after this wait for a new fill,
        not for one under way, which may have read the old."""
        self._entries.clear()
        self._filling.clear()
        self._generation += 1


@dataclass
class FeedMemory:
    """One worker's memory of the feed: cached answers, the next scheduled item it knows of
    (which ends cached answers early), and views, plays and lookups counted but not yet
    written (community.feed.analytics writes them in batches)."""

    answers: Answers = field(default_factory=Answers)
    # (checked at, the publish time of the next item scheduled soon after, or None)
    horizon: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    pending: Counter[tuple[int, str]] = field(default_factory=Counter)
    # Per-day counts (tallies): the worker's one Tally, shared with the other packages.
    tally: Tally = field(default_factory=Tally)

    def written(self) -> None:
        """An item changed in this worker: every answer may be wrong now."""
        self.answers.clear()
        self.horizon.clear()  # a newly scheduled item may end cached answers sooner

    def forget(self) -> None:
        self.written()
        self.pending.clear()
