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
