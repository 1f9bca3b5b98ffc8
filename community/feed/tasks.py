"""Background work of the community: counted views, plays and lookups reach the database, with
every other count of the worker's tally (tallies)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from community.feed import analytics
from community.feed.memory import FeedMemory
from tallies import Tally, flush

log = logging.getLogger(__name__)
FLUSH_EVERY_SECONDS = 5.0


async def flush_counts(memory: FeedMemory, tally: Tally) -> None:
    """Write the feed's running totals, then every per-day and per-minute count."""
    await analytics.flush_analytics(memory)
    await flush(tally)


async def flush_forever(
    write: Callable[[], Awaitable[object]], *, every_seconds: float = FLUSH_EVERY_SECONDS
) -> None:
    """Write the counts (`write`: the worker's, jobs.worker.write_counts) every few seconds,
    and once more when the app stops."""
    try:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await write()
            except Exception:  # keep the loop alive; the counts stay for the next round
                log.exception("writing counts failed")
    except asyncio.CancelledError:
        try:
            await write()
        except Exception:
            log.exception("writing counts at shutdown failed")
        raise
