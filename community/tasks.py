"""Background work of the community: counted views, plays and lookups reach the database."""

from __future__ import annotations

import asyncio
import logging

from community import services

log = logging.getLogger(__name__)
FLUSH_EVERY_SECONDS = 5.0


async def flush_forever(*, every_seconds: float = FLUSH_EVERY_SECONDS) -> None:
    """Write the analytics counters every few seconds, and once more when the app stops."""
    try:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await services.flush_analytics()
            except Exception:  # keep the loop alive; the counts stay for the next round
                log.exception("writing feed analytics failed")
    except asyncio.CancelledError:
        try:
            await services.flush_analytics()
        except Exception:
            log.exception("writing feed analytics at shutdown failed")
        raise
