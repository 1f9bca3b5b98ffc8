"""Background work of membership: holds and waitlist offers that ran out, renewal reminders."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from membership import grants, services
from membership.memory import SeatMemory
from payments.provider import StripeProvider

log = logging.getLogger(__name__)
MAINTAIN_EVERY_SECONDS = 20.0


async def maintain(
    provider: StripeProvider, *, now: datetime, memory: SeatMemory | None = None
) -> dict[str, int]:
    """One round: release holds that ran out (canceling their unfinished payments first), pass
    on waitlist offers, remind members whose membership ends soon."""
    return {
        "holds_released": await services.release_expired_holds(
            provider=provider, now=now, memory=memory
        ),
        "offers_expired": await services.expire_offers(now=now),
        "reminders_sent": await grants.send_renewal_reminders(now=now),
    }


async def maintain_forever(
    provider: StripeProvider,
    memory: SeatMemory,
    *,
    every_seconds: float = MAINTAIN_EVERY_SECONDS,
) -> None:
    """Run maintain() until canceled; holds expire even when nobody visits a page."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            counts = await maintain(provider, now=datetime.now(UTC), memory=memory)
            if any(counts.values()):
                log.info("membership maintenance: %s", counts)
        except Exception:  # keep the loop alive; the next round tries again
            log.exception("membership maintenance failed")
