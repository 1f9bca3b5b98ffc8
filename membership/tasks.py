"""Background work of membership: holds and waitlist offers that ran out, renewal reminders,
notices that a window opened."""

from __future__ import annotations

import logging
from datetime import datetime

from membership import grants, reminders, services
from membership.memory import SeatMemory
from payments.provider import PaymentProvider

log = logging.getLogger(__name__)


async def maintain(
    provider: PaymentProvider, *, now: datetime, memory: SeatMemory | None = None
) -> dict[str, int]:
    """One round: release holds that ran out (canceling their unfinished payments first), pass
    on waitlist offers, remind members whose membership ends soon."""
    return {
        "holds_released": await services.release_expired_holds(
            provider=provider, now=now, memory=memory
        ),
        "offers_expired": await services.expire_offers(now=now),
        "reminders_sent": await grants.send_renewal_reminders(now=now),
        "opening_notices": await reminders.send_window_reminders(now=now),
    }
