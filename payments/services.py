"""Payments' rules, as the rest of Shuyuan calls them: pay for a thing once (payments.pay),
refund, apply the provider's notifications (payments.notifications), reconcile what was left
open (payments.reconcile), and read payments back. The provider is built here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from tortoise.expressions import F, Q

from errors import ValidationError
from payments.errors import (
    NotRefundable,
    PaymentNotFound,
    PaymentUnavailable,
    RefundTooLarge,
)
from payments.models import (
    OPEN_STATUSES,
    Payment,
    PaymentStatus,
    PayMethod,
    Settlement,
)
from payments.notifications import APPLIED_EVENTS, handle_webhook
from payments.pay import (
    CURRENCY,
    IN_FLIGHT_FOR,
    MAX_AMOUNT_FEN,
    PAYMENT_METHOD_PATTERN,
    REQUIRES_ACTION_EXPIRES_AFTER,
    CheckedChoice,
    PaymentChoice,
    check_choice,
    origin_of,
    pay,
)
from payments.provider import (
    WALLETS,
    Method,
    PaymentProvider,
    ProviderError,
    ProviderUnavailable,
)
from payments.purposes import Fulfilment, PurposeHandlers, Purposes, handlers_for
from payments.reconcile import CONFIRM_WITHIN, confirm_recent_successes, reconcile
from payments.settle import (
    Outcome,
    PaymentResult,
    close_before_release,
    settle_from_provider,
)
from payments.stripe_provider import StripeProvider

__all__ = [
    "APPLIED_EVENTS",
    "CONFIRM_WITHIN",
    "CURRENCY",
    "IN_FLIGHT_FOR",
    "MAX_AMOUNT_FEN",
    "PAYMENT_METHOD_PATTERN",
    "REQUIRES_ACTION_EXPIRES_AFTER",
    "WALLET_ASK_EVERY",
    "CheckedChoice",
    "Fulfilment",
    "Outcome",
    "PaymentChoice",
    "PaymentResult",
    "PurposeHandlers",
    "Purposes",
    "check_choice",
    "close_before_release",
    "confirm_recent_successes",
    "handle_webhook",
    "origin_of",
    "pay",
    "reconcile",
]

log = logging.getLogger(__name__)

# A wallet payment's waiting page polls every 2 s; the provider is asked at most this often.
WALLET_ASK_EVERY = timedelta(seconds=10)


def make_provider(
    *,
    api_base: str,
    secret_key: str,
    webhook_secret: str,
    methods: Sequence[str] = ("card", *WALLETS),
) -> PaymentProvider:
    """The provider the settings name (Stripe's API, or localstripe in development), taking
    `methods` (Settings.payment_methods) for new payments."""
    return StripeProvider(
        api_base=api_base,
        secret_key=secret_key,
        webhook_secret=webhook_secret,
        methods=tuple(cast(Method, method) for method in methods),
    )


async def refresh_payment(
    provider: PaymentProvider,
    payment_id: int,
    *,
    now: datetime,
    abandon: bool = False,
    eager: bool = True,
) -> Payment:
    """The payment, settled with the provider first if it is still open and the provider
    answers (after 3-D Secure the provider knows before our webhook arrives); as stored if not.

    Not `eager` (a waiting page's poll), a wallet payment is asked about at most once every
    WALLET_ASK_EVERY across all workers (a guarded UPDATE of asked_at picks who asks): its
    webhook settles it first, reconciliation if the webhook is lost.
    """
    payment = await Payment.get(id=payment_id)
    if payment.status not in OPEN_STATUSES:
        return payment
    if payment.method != PayMethod.CARD:
        due = Q(asked_at__isnull=True) | Q(asked_at__lte=now - WALLET_ASK_EVERY)
        query = Payment.filter(id=payment_id) if eager else Payment.filter(due, id=payment_id)
        if not await query.update(asked_at=now):
            return payment
    try:
        return (await settle_from_provider(provider, payment_id, now=now, abandon=abandon)).payment
    except ProviderUnavailable:
        return payment  # reconciliation settles it later


async def payment_for_user(payment_id: int, *, user_id: int, is_admin: bool = False) -> Payment:
    """The payment, if it is the user's (or the user is an admin). Raises PaymentNotFound."""
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or (payment.user_id != user_id and not is_admin):  # type: ignore[attr-defined]
        raise PaymentNotFound()
    return payment


async def latest_payments(
    *, method: str | None = None, status: str | None = None, limit: int = 100
) -> list[Payment]:
    """The latest payments first (with their payer), of one method or status if given."""
    query = Payment.all().select_related("user").order_by("-id").limit(min(limit, 500))
    if method is not None:
        query = query.filter(method=PayMethod(method))
    if status is not None:
        query = query.filter(status=PaymentStatus(status))
    return await query


async def count_disputed() -> int:
    """Payments recorded as paid that the provider does not confirm (for an admin to check)."""
    return await Payment.filter(status=PaymentStatus.DISPUTED).count()


async def refund(
    *,
    provider: PaymentProvider,
    payment_id: int,
    amount_fen: int | None = None,
    now: datetime,
) -> Payment:
    """Refund part (amount_fen) or the rest of a succeeded payment; tell its purpose.

    The refunded total can never exceed the amount paid: the amount is reserved with a guarded
    UPDATE before the provider is asked, and given back if the provider refuses. Raises
    PaymentNotFound, NotRefundable, RefundTooLarge, ValidationError, PaymentUnavailable.
    """
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None:
        raise PaymentNotFound()
    if payment.status != PaymentStatus.SUCCEEDED or payment.provider_intent_id is None:
        raise NotRefundable()
    if payment.settlement in (Settlement.REFUND_DUE, Settlement.REFUNDED):
        raise NotRefundable("This payment is being refunded in full automatically.")
    remaining = payment.amount_fen - payment.refunded_fen
    amount = remaining if amount_fen is None else amount_fen
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationError("amount_fen", "must be a positive whole number of fen")
    # Invariant "refunded_fen <= amount_fen", enforced by the UPDATE's condition.
    reserved = await Payment.filter(
        id=payment.id,
        status=PaymentStatus.SUCCEEDED,
        refunded_fen__lte=payment.amount_fen - amount,
    ).update(refunded_fen=F("refunded_fen") + amount)
    if reserved != 1:
        raise RefundTooLarge()
    already = await Payment.get(id=payment.id)
    try:
        await provider.refund(
            payment.provider_intent_id,
            amount=amount,
            idempotency_key=f"shuyuan-refund-{payment.id}-{already.refunded_fen}",
        )
    except (ProviderUnavailable, ProviderError) as exc:
        await Payment.filter(id=payment.id).update(refunded_fen=F("refunded_fen") - amount)
        if isinstance(exc, ProviderUnavailable):
            raise PaymentUnavailable() from exc
        raise NotRefundable(exc.message) from exc
    await Payment.filter(
        id=payment.id, status=PaymentStatus.SUCCEEDED, refunded_fen=F("amount_fen")
    ).update(status=PaymentStatus.REFUNDED)
    refunded = await Payment.get(id=payment.id)
    handlers = handlers_for(payment.purpose)
    if handlers.on_refunded is not None:
        await handlers.on_refunded(refunded, amount)
    return refunded
