"""Answers (the feed's and the front page's per-worker cache): a stale entry is refilled once,
however many readers find it stale at the same moment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from community.feed.memory import Answers


async def test_readers_of_a_stale_entry_start_one_refill_and_all_get_an_answer() -> None:
    answers = Answers()
    start = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    fills = 0

    async def compute() -> int:
        nonlocal fills
        fills += 1
        await asyncio.sleep(0.01)
        return fills

    async def until(filled: datetime) -> datetime:
        return filled + timedelta(seconds=5)

    assert await answers.get_or_fill("page", start, compute, until) == 1
    stale = start + timedelta(seconds=5, milliseconds=500)  # ran out less than STALE ago
    seen = await asyncio.gather(
        *(answers.get_or_fill("page", stale, compute, until) for _ in range(20))
    )
    assert seen == [1] * 20  # the stale answer, at once
    await asyncio.sleep(0.05)  # the one refill finishes (it once raised KeyError here)
    assert fills == 2
    assert await answers.get_or_fill("page", stale, compute, until) == 2


async def test_a_fill_under_way_when_a_change_is_heard_is_not_kept_nor_waited_for() -> None:
    """A change announced while a fill reads the database (changes.py): the fill may have read
    what the change replaced, so readers after the change get a fill of their own."""
    answers = Answers()
    now = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    published = ["罗胖60秒：变量"]
    reading = asyncio.Event()
    go_on = asyncio.Event()

    async def slow_read() -> list[str]:
        seen = list(published)
        reading.set()
        await go_on.wait()  # the change lands while this read is under way
        return seen

    async def fresh_read() -> list[str]:
        return list(published)

    async def until(filled: datetime) -> datetime:
        return filled + timedelta(seconds=5)

    before = asyncio.create_task(answers.get_or_fill("page", now, slow_read, until))
    await reading.wait()
    published.clear()  # the item is unpublished, and the change heard
    answers.clear()
    after = await answers.get_or_fill("page", now, fresh_read, until)
    assert after == []  # not the fill under way
    go_on.set()
    assert await before == ["罗胖60秒：变量"]  # its own reader gets what it read
    assert await answers.get_or_fill("page", now, fresh_read, until) == []  # and it was not kept
