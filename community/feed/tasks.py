"""Background work of the community: counted views, plays and lookups reach the database."""

from __future__ import annotations

import asyncio
import logging

from community.feed import analytics
from community.feed.memory import FeedMemory

log = logging.getLogger(__name__)
FLUSH_EVERY_SECONDS = 5.0


async def flush_forever(memory: FeedMemory, *, every_seconds: float = FLUSH_EVERY_SECONDS) -> None:
    """Write the analytics counters every few seconds, and once more when the app stops."""
    try:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await analytics.flush_analytics(memory)
            except Exception:  # keep the loop alive; the counts stay for the next round
                log.exception("writing feed analytics failed")
    except asyncio.CancelledError:
        try:
            await analytics.flush_analytics(memory)
        except Exception:
            log.exception("writing feed analytics at shutdown failed")
        raise
