"""Reconciliation: payments left open (a lost webhook, a crash, a buyer who walked away) and
successes never confirmed are settled with the provider's word."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tortoise.expressions import Q

from payments.models import (
    OPEN_STATUSES,
    Payment,
    PaymentStatus,
    Settlement,
)
from payments.pay import (
    REQUIRES_ACTION_EXPIRES_AFTER,
)
from payments.provider import (
    Intent,
    PaymentProvider,
    ProviderError,
    ProviderUnavailable,
)
from payments.providers import of_payment
from payments.settle import (
    refund_refused,
    settle_from_provider,
    settle_late_success,
    settle_succeeded,
)

log = logging.getLogger(__name__)

# Successes the provider's own answer never confirmed are read back this long after they began.
CONFIRM_WITHIN = timedelta(days=1)
# Providers whose payments recorded failed may still be paid until their offer ends: Alipay
# makes a trade only when its page is opened, so a cancel before then closes nothing, and the
# old page stays payable until its time_expire. Read back once that has passed, with this much
# slack for the provider's clock.
LATE_PAYABLE_PROVIDERS = ("alipay",)
LATE_PAYABLE_SLACK = timedelta(seconds=30)


async def reconcile(provider: PaymentProvider, *, now: datetime) -> dict[str, int]:
    """Settle what was left: open payments whose answer or webhook never came, 3-D Secure never
    finished, and succeeded payments not yet fulfilled nor refunded. Returns counts by outcome
    (also logged by the caller), so an operator can see what it repaired.

    Open payments that no request is handling (see IN_FLIGHT_FOR) are asked about; those
    waiting for 3-D Secure longer than REQUIRES_ACTION_EXPIRES_AFTER are canceled.
    Invariant "every succeeded payment ends fulfilled once or refunded": a succeeded payment
    with no settlement (left by a crash, or by code older than settlements) is settled again:
    its purpose fulfils it or it is refunded; one whose refund is due is refunded.
    """
    counts: dict[str, int] = {}

    def count(key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    open_payments = await Payment.filter(status__in=list(OPEN_STATUSES)).only(
        "id", "status", "updated_at", "in_flight_until", "action_expires_at"
    )
    for payment in open_payments:
        if payment.in_flight_until is not None and payment.in_flight_until > now:
            continue  # a request is still waiting for the provider's answer
        # A QR code or redirect no longer offered is canceled like a 3-D Secure left undone.
        abandon = (
            payment.status == PaymentStatus.PENDING
            or now - payment.updated_at >= REQUIRES_ACTION_EXPIRES_AFTER
            or (payment.action_expires_at is not None and payment.action_expires_at <= now)
        )
        try:
            result = await settle_from_provider(provider, payment.id, now=now, abandon=abandon)
            count(result.outcome.value)
        except ProviderUnavailable:
            count("unreachable")
        except LookupError:
            log.exception("payment %s: its purpose has no handlers", payment.id)
            count("no_handlers")

    unsettled = await Payment.filter(
        status=PaymentStatus.SUCCEEDED, settlement__isnull=True, provider_intent_id__isnull=False
    ).only("id", "provider_intent_id", "amount_fen", "currency")
    for payment in unsettled:
        assert payment.provider_intent_id is not None
        intent = Intent(
            id=payment.provider_intent_id,
            status="succeeded",
            amount=payment.amount_fen,
            currency=payment.currency,
        )
        try:
            if await settle_succeeded(
                provider, payment.id, intent, now=now, refund_now=False, confirmed=False
            ):
                settled = await Payment.get(id=payment.id)
                count(f"repaired_{settled.settlement}")
        except LookupError:
            log.exception("payment %s: its purpose has no handlers", payment.id)
            count("no_handlers")

    for payment_id in await Payment.filter(settlement=Settlement.REFUND_DUE).values_list(
        "id", flat=True
    ):
        count("refunded" if await refund_refused(provider, int(payment_id)) else "refund_pending")  # type: ignore[call-overload]

    for outcome in await confirm_recent_successes(provider, now=now):
        count(outcome)
    for outcome in await read_back_given_up(provider, now=now):
        count(outcome)
    return counts


async def read_back_given_up(provider: PaymentProvider, *, now: datetime) -> list[str]:
    """Invariant "never keep money without delivering or refunding", for a payment given up on
    while its buyer could still pay it (LATE_PAYABLE_PROVIDERS): each one failed, whose offer
    ended within CONFIRM_WITHIN, is read back once after its end (asked_at marks it read); a
    success is settled late (delivered, or refunded in full). Its notification usually comes
    first; this is for one lost. Returns an outcome per payment read."""
    outcomes = []
    candidates = await Payment.filter(
        provider__in=LATE_PAYABLE_PROVIDERS,
        status=PaymentStatus.FAILED,
        provider_intent_id__isnull=False,
        action_expires_at__lte=now - LATE_PAYABLE_SLACK,
        action_expires_at__gt=now - CONFIRM_WITHIN,
    ).only("id", "action_expires_at", "asked_at")
    for payment in candidates:
        assert payment.action_expires_at is not None
        if payment.asked_at is not None and (
            payment.asked_at >= payment.action_expires_at + LATE_PAYABLE_SLACK
        ):
            continue  # read back after its end already
        try:
            paid = await settle_late_success(provider, payment.id, now=now)
        except ProviderUnavailable:
            outcomes.append("unreachable")
            continue
        except LookupError:
            log.exception("payment %s: its purpose has no handlers", payment.id)
            outcomes.append("no_handlers")
            continue
        await Payment.filter(id=payment.id).update(asked_at=now)
        outcomes.append("paid_late" if paid else "given_up")
    return outcomes


async def confirm_recent_successes(provider: PaymentProvider, *, now: datetime) -> list[str]:
    """Read back each succeeded payment of the last CONFIRM_WITHIN that the provider's own
    answer never confirmed (recorded from an older webhook, say): confirmed if the provider
    says it succeeded for its amount, else marked DISPUTED for an admin to look at. Nothing is
    reversed automatically: the thing stays delivered, no refund is made. Returns an outcome
    per payment read ("confirmed", "disputed", "unreachable")."""
    outcomes = []
    unconfirmed = await Payment.filter(
        Q(status=PaymentStatus.SUCCEEDED, confirmed_at__isnull=True)
        | Q(status=PaymentStatus.DISPUTED),
        provider_intent_id__isnull=False,
        created_at__gte=now - CONFIRM_WITHIN,
    ).only("id", "status", "provider_intent_id", "provider", "amount_fen", "currency")
    for payment in unconfirmed:
        assert payment.provider_intent_id is not None
        try:
            intent = await of_payment(provider, payment.provider).retrieve_intent(
                payment.provider_intent_id
            )
            agrees = (
                intent.status == "succeeded"
                and intent.amount == payment.amount_fen
                and intent.currency.lower() == payment.currency
            )
        except ProviderUnavailable:
            outcomes.append("unreachable")
            continue
        except ProviderError as exc:
            if not exc.missing:  # our key refused: that says nothing of the payment
                outcomes.append("unreachable")
                continue
            agrees = False  # the provider does not know the intent at all
        if agrees:
            # A disputed payment the provider now confirms is succeeded again.
            await Payment.filter(id=payment.id).update(
                confirmed_at=now, status=PaymentStatus.SUCCEEDED
            )
            outcomes.append("confirmed")
        elif payment.status == PaymentStatus.DISPUTED:
            outcomes.append("still_disputed")
        else:
            await Payment.filter(id=payment.id, status=PaymentStatus.SUCCEEDED).update(
                status=PaymentStatus.DISPUTED
            )
            log.error("payment %s: the provider does not confirm its success", payment.id)
            outcomes.append("disputed")
    return outcomes
