"""The provider's notifications (webhooks): verified by the provider that sent them, recorded
once, and applied only as far as the provider confirms when asked again."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import metrics
from accounts import notices
from accounts.models import User
from accounts.roles import roles_that_may
from errors import DomainError
from payments.errors import (
    InvalidEvent,
    InvalidSignature,
    PaymentUnavailable,
)
from payments.models import (
    Payment,
    WebhookEvent,
)
from payments.provider import (
    Intent,
    PaymentProvider,
    ProviderError,
    ProviderEventError,
    ProviderSignatureError,
    ProviderUnavailable,
    WebhookMessage,
)
from payments.settle import (
    refund_refused,
    settle_failed,
    settle_succeeded,
)

log = logging.getLogger(__name__)


async def handle_webhook(
    *, provider: PaymentProvider, payload: bytes, headers: Mapping[str, str], now: datetime
) -> str:
    """Apply one signed provider event; returns what was done ("applied", "duplicate", ...).

    Each event id is recorded once, in the transaction that applies it, so a redelivered event
    is acknowledged and ignored. Events may arrive in any order and before or after our own
    confirm call returns: settle_succeeded/settle_failed make the outcome the same. An event
    about an intent we do not know is acknowledged (it is not ours to retry). Nothing in the
    event is believed: the intent is read back from the provider and only what it confirms is
    applied ("unconfirmed" otherwise). Raises InvalidSignature, InvalidEvent for a signed
    event whose content we cannot use (the provider would retry a 500 for days; a 400 tells it
    the event itself is wrong), and PaymentUnavailable (503, retried) when the read fails.
    """
    try:
        done = await _handle_webhook(provider=provider, payload=payload, headers=headers, now=now)
    except DomainError as exc:
        metrics.WEBHOOKS.labels(outcome=str(exc.code)).inc()
        raise
    metrics.WEBHOOKS.labels(outcome=done).inc()
    return done


async def _handle_webhook(
    *, provider: PaymentProvider, payload: bytes, headers: Mapping[str, str], now: datetime
) -> str:
    try:
        message = provider.verify_webhook(payload, headers)
        if message.type in REFUND_TROUBLE:
            return await _refund_stuck(message, now)
        if message.type not in APPLIED_EVENTS:
            return "ignored"  # nothing of ours moves on it: not worth a read-back
        intent = provider.intent_of(message)
    except ProviderSignatureError as exc:
        raise InvalidSignature(str(exc)[:200]) from exc
    except ProviderEventError as exc:
        log.warning("webhook event refused (%s): %s", _event_id_for_log(payload), exc)
        raise InvalidEvent(f"The event cannot be used: {exc}.") from exc
    payment = await _payment_for_intent(intent)
    if payment is None:
        return "unknown_payment"
    # Invariant "money moves only on the provider's word": a signed event is a prompt to look,
    # not the answer. The intent is read back, and only what the provider says of it now is
    # applied: a success only if it says succeeded, a failure only if it says the intent
    # failed or was canceled. A provider that cannot be asked gets 503, so it retries.
    try:
        confirmed = await provider.retrieve_intent(intent.id)
    except ProviderUnavailable as exc:
        raise PaymentUnavailable() from exc
    except ProviderError as exc:
        if exc.missing:
            return "unknown_payment"  # not an intent of this provider account
        # Our key refused (rotated, restricted): the provider is asked again when it retries.
        log.error("webhook read-back refused: %s %s", exc.code, exc.message)
        raise PaymentUnavailable() from exc
    if payment.provider_intent_id != confirmed.id and not _metadata_names(confirmed, payment):
        return "unknown_payment"  # the event's metadata named our payment; the provider's not
    failure = message.type in ("payment_intent.payment_failed", "payment_intent.canceled")
    if confirmed.status != "succeeded" and not (failure and confirmed.status in FAILED_INTENTS):
        log.warning(
            "webhook %s says %s; the provider says %s: nothing applied",
            _event_id_for_log(payload),
            message.type,
            confirmed.status,
        )
        return "unconfirmed"
    try:
        async with in_transaction():
            await WebhookEvent.create(event_id=message.id, type=message.type, payment_id=payment.id)
            if confirmed.status == "succeeded":
                await settle_succeeded(provider, payment.id, confirmed, now=now, refund_now=False)
            else:
                await settle_failed(
                    payment.id,
                    code=confirmed.error_code or message.type.rpartition(".")[2],
                    message=confirmed.error_message or "The payment did not go through.",
                )
    except IntegrityError:
        return "duplicate"
    # A success that could not be delivered is refunded after the event is recorded, so the
    # provider call is outside the transaction (reconciliation retries a refund not made).
    await refund_refused(provider, payment.id)
    return "applied"


async def _refund_stuck(message: WebhookMessage, now: datetime) -> str:
    """WeChat Pay could not send a refund back (the buyer's card closed, say): money an
    operator must return by hand. The payment stays as recorded; the staff who see payments
    are told, once per notification (WeChat repeats them)."""
    refund = str(message.object.get("out_refund_no", "?"))[:64]
    intent_id = str(message.object.get("out_trade_no", ""))[:100]
    payment = await Payment.get_or_none(provider_intent_id=intent_id) if intent_id else None
    log.error("refund %s (%s) ended %s: return the money by hand", refund, intent_id, message.type)
    try:
        async with in_transaction():
            await WebhookEvent.create(
                event_id=message.id,
                type=message.type,
                payment_id=payment.id if payment else None,
            )
            watchers = await User.filter(staff_role__in=roles_that_may(notices.REFUND_WATCHERS))
            for person in watchers:
                await notices.notify(
                    person.id,
                    kind=notices.REFUND_STUCK,
                    params={
                        "refund": refund,
                        "payment": payment.id if payment else intent_id,
                        "state": message.type.rpartition(".")[2],
                    },
                    now=now,
                )
    except IntegrityError:
        return "duplicate"
    return "refund_stuck"


# What an intent that did not go through says of itself at the provider.
FAILED_INTENTS = ("requires_payment_method", "canceled")
# Refunds WeChat Pay reports it could not make (REFUND.ABNORMAL, REFUND.CLOSED).
REFUND_TROUBLE = ("refund.abnormal", "refund.closed")
APPLIED_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
)


def _event_id_for_log(payload: bytes) -> str:
    """The event's id as far as it can be read, for the log line of a refused event."""
    marker = payload.find(b'"id"')
    return repr(payload[marker : marker + 60]) if marker >= 0 else "no id"


async def _payment_for_intent(intent: Intent) -> Payment | None:
    payment = await Payment.get_or_none(provider_intent_id=intent.id)
    if payment is not None:
        return payment
    # The webhook may arrive before our confirm call has stored the intent id: then the
    # metadata we sent names the payment. All of it must match, so an event from another
    # database sharing the provider account (a test run, a staging copy) is not taken for ours.
    # A second delivery of the same event may find the intent id stored by the first between
    # the two reads: that payment is still this intent's (the event is then a duplicate).
    payment_id = intent.metadata.get("payment_id", "")
    if not payment_id.isdigit() or len(payment_id) > 18:
        return None
    payment = await Payment.get_or_none(id=int(payment_id))
    if payment is None or payment.provider_intent_id not in (None, intent.id):
        return None
    if not _metadata_names(intent, payment):
        return None
    return payment


def _metadata_names(intent: Intent, payment: Payment) -> bool:
    """Whether the metadata we sent with an intent names this payment, all of it."""
    return (
        intent.metadata.get("payment_id") == str(payment.id)
        and intent.metadata.get("purpose") == payment.purpose
        and intent.metadata.get("subject_id") == payment.subject_id
    )
