"""Background work of the store: expired holds give stock back; drop reminders go out."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from payments.provider import StripeProvider
from store import services
from store.memory import StoreMemory

log = logging.getLogger(__name__)
RELEASE_EVERY_SECONDS = 20.0


async def release_forever(
    provider: StripeProvider,
    memory: StoreMemory,
    *,
    every_seconds: float = RELEASE_EVERY_SECONDS,
) -> None:
    """Cancel expired unpaid orders until canceled, even when nobody visits a page."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            now = datetime.now(UTC)
            released = await services.release_expired_orders(
                provider=provider, now=now, memory=memory
            )
            reminded = await services.send_drop_reminders(now=now)
            await services.draw_due_raffles(now=now, memory=memory)
            if released or reminded:
                log.info("store: %d expired orders released, %d reminders", released, reminded)
        except Exception:  # keep the loop alive; the next round tries again
            log.exception("releasing expired orders failed")
