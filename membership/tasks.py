"""Background work of membership: holds and waitlist offers that ran out, renewal reminders."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from membership import grants, services
from membership.models import Enrollment, EnrollmentStatus
from payments import services as payments
from payments.models import OPEN_STATUSES, Payment
from payments.provider import StripeProvider

log = logging.getLogger(__name__)
MAINTAIN_EVERY_SECONDS = 20.0


async def maintain(provider: StripeProvider, *, now: datetime) -> dict[str, int]:
    """One round: expire holds (canceling their unfinished payments), pass on waitlist offers,
    refund payments that lost their seat, remind members whose membership ends soon."""
    abandoned = 0
    for enrollment in await Enrollment.filter(
        status=EnrollmentStatus.PENDING_PAYMENT, hold_expires_at__lte=now, payment_id__isnull=False
    ):
        assert enrollment.payment_id is not None
        if await Payment.filter(id=enrollment.payment_id, status__in=list(OPEN_STATUSES)).exists():
            # Paid after all -> fulfilled; otherwise canceled -> on_failed frees the seat.
            payment = await payments.refresh_payment(
                provider, enrollment.payment_id, now=now, abandon=True
            )
            abandoned += payment.status not in OPEN_STATUSES
    return {
        "payments_abandoned": abandoned,
        "holds_released": await services.release_expired_holds(now=now),
        "offers_expired": await services.expire_offers(now=now),
        "unseated_refunded": await services.refund_unseated_payments(provider=provider, now=now),
        "reminders_sent": await grants.send_renewal_reminders(now=now),
    }


async def maintain_forever(
    provider: StripeProvider, *, every_seconds: float = MAINTAIN_EVERY_SECONDS
) -> None:
    """Run maintain() until canceled; holds expire even when nobody visits a page."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            counts = await maintain(provider, now=datetime.now(UTC))
            if any(counts.values()):
                log.info("membership maintenance: %s", counts)
        except Exception:  # keep the loop alive; the next round tries again
            log.exception("membership maintenance failed")
