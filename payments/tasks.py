"""Background work of payments: settle payments left open, every minute, in every worker."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from payments import services
from payments.provider import StripeProvider

log = logging.getLogger(__name__)
RECONCILE_EVERY_SECONDS = 60.0


async def reconcile_forever(
    provider: StripeProvider, *, every_seconds: float = RECONCILE_EVERY_SECONDS
) -> None:
    """Run reconciliation until canceled. Several workers may run it at once: every settlement
    is a conditional UPDATE, so two workers settling one payment fulfil it once."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            counts = await services.reconcile(provider, now=datetime.now(UTC))
            if counts:
                log.info("reconciled payments: %s", counts)
        except Exception:  # keep the loop alive; the next round tries again
            log.exception("payment reconciliation failed")
