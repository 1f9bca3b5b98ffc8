"""Payments' rules: pay for a thing once, refund, apply webhooks, reconcile what was left open."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from urllib.parse import urlsplit

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

import metrics
from errors import DomainError, ValidationError
from payments.errors import (
    AlreadyPaid,
    InvalidEvent,
    InvalidSignature,
    NotRefundable,
    PaymentInProgress,
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
    WebhookEvent,
)
from payments.provider import (
    MAX_URL_LENGTH,
    WALLETS,
    Intent,
    Method,
    PaymentProvider,
    ProviderDeclined,
    ProviderError,
    ProviderEventError,
    ProviderSignatureError,
    ProviderUnavailable,
)
from payments.purposes import Fulfilment, PurposeHandlers, Purposes, handlers_for
from payments.settle import (
    Outcome,
    PaymentResult,
    apply_intent,
    close_before_release,
    refund_refused,
    settle_failed,
    settle_from_provider,
    settle_succeeded,
)
from payments.stripe_provider import StripeProvider

__all__ = [
    "Fulfilment",
    "Outcome",
    "PaymentChoice",
    "PaymentResult",
    "PurposeHandlers",
    "Purposes",
    "close_before_release",
]

log = logging.getLogger(__name__)

CURRENCY = "cny"
MAX_AMOUNT_FEN = 100_000_000  # one million yuan: anything above is a mistake
# A request that pays is in the provider's hands for at most this long (a few provider calls,
# each bounded by PROVIDER_TIMEOUT); until then its payment is not settled by anyone else.
IN_FLIGHT_FOR = timedelta(seconds=30)
# A payment waiting for 3-D Secure this long is abandoned: canceled, and its thing released.
REQUIRES_ACTION_EXPIRES_AFTER = timedelta(minutes=15)
# A wallet payment's waiting page polls every 2 s; the provider is asked at most this often.
WALLET_ASK_EVERY = timedelta(seconds=10)
# Successes the provider's own answer never confirmed are read back this long after they began.
CONFIRM_WITHIN = timedelta(days=1)
PAYMENT_METHOD_PATTERN = r"^pm_[A-Za-z0-9_]{1,96}$"
_PAYMENT_METHOD = re.compile(PAYMENT_METHOD_PATTERN)


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


@dataclass(frozen=True)
class PaymentChoice:
    """How a buyer asked to pay, as sent: a card's PaymentMethod id (`payment_method`), or a
    wallet (`method` wechat_pay, or alipay with the `return_url` its redirect comes back to).
    `site_origins` are the scheme://host[:port] of our own pages: a return_url elsewhere is
    refused (it would make us an open redirect). pay() checks all of it (check_choice)."""

    payment_method: str | None = None
    method: str | None = None
    return_url: str | None = None
    site_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckedChoice:
    method: Method
    payment_method: str | None
    return_url: str | None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_choice(choice: PaymentChoice, offered: Sequence[str]) -> CheckedChoice:
    """The choice if it is one of the two forms and a method `offered`; else ValidationError
    (one form: {payment_method} for a card, or {method} for a wallet; card may be named too)."""
    method = choice.method if choice.method is not None else "card"
    if method not in ("card", *WALLETS):
        raise ValidationError("method", "must be card, wechat_pay or alipay")
    if method not in offered:
        raise ValidationError("method", "is not offered here; pay another way")
    if method == "card":
        if choice.payment_method is None:
            raise ValidationError("payment_method", "is required to pay by card")
        if choice.return_url is not None:
            raise ValidationError("return_url", "is only for Alipay")
        if not isinstance(choice.payment_method, str) or not _PAYMENT_METHOD.match(
            choice.payment_method
        ):
            raise ValidationError("payment_method", "must be a payment method id (pm_...)")
        return CheckedChoice("card", choice.payment_method, None)
    if choice.payment_method is not None:
        raise ValidationError("payment_method", "is only for cards; send method alone")
    if method == "wechat_pay":
        if choice.return_url is not None:
            raise ValidationError("return_url", "is only for Alipay")
        return CheckedChoice("wechat_pay", None, None)
    url = choice.return_url
    if url is None:
        raise ValidationError("return_url", "is required to pay with Alipay")
    if (
        len(url) > MAX_URL_LENGTH
        or urlsplit(url).scheme not in ("http", "https")
        or origin_of(url) not in {origin_of(o) for o in choice.site_origins}
    ):
        raise ValidationError("return_url", "must be a page of this site")
    return CheckedChoice("alipay", None, url)


async def pay(
    *,
    provider: PaymentProvider,
    user_id: int,
    purpose: str,
    subject_id: str,
    amount_fen: int,
    now: datetime,
    payment_method: str | None = None,
    choice: PaymentChoice | None = None,
    pay_until: datetime | None = None,
) -> PaymentResult:
    """Charge `amount_fen` for one thing (purpose + subject_id): with a card's Stripe
    PaymentMethod id (`payment_method`), or as `choice` says (a card, WeChat Pay, Alipay).

    At most one payment per thing is open or paid at a time (Payment.active_key). Returns PAID,
    REQUIRES_ACTION (with the client secret for 3-D Secure, or a wallet's QR code or redirect,
    offered until `pay_until` at the latest: the thing's hold), FAILED (with the provider's
    reason) or PENDING (the provider's answer is still to come). A failure leaves the thing as
    it was: the buyer may pay again. Raises ValidationError, AlreadyPaid, PaymentInProgress, or
    PaymentUnavailable when the provider cannot be reached (then nothing was charged, or the
    payment stays pending until a retry or reconciliation asks the provider again).
    """
    try:
        checked = check_choice(
            choice or PaymentChoice(payment_method=payment_method), provider.methods
        )
        result = await _pay(
            provider=provider,
            user_id=user_id,
            purpose=purpose,
            subject_id=subject_id,
            amount_fen=amount_fen,
            choice=checked,
            now=now,
            pay_until=pay_until,
        )
    except DomainError as exc:
        metrics.PAYMENTS.labels(outcome=str(exc.code)).inc()
        raise
    metrics.PAYMENTS.labels(outcome=result.outcome.value).inc()
    return result


async def _pay(
    *,
    provider: PaymentProvider,
    user_id: int,
    purpose: str,
    subject_id: str,
    amount_fen: int,
    choice: CheckedChoice,
    now: datetime,
    pay_until: datetime | None,
) -> PaymentResult:
    handlers_for(purpose)
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ValidationError("amount_fen", "must be a positive whole number of fen")
    if amount_fen > MAX_AMOUNT_FEN:
        raise ValidationError("amount_fen", f"must be at most {MAX_AMOUNT_FEN}")

    payment = await _open_payment(
        provider=provider,
        user_id=user_id,
        purpose=purpose,
        subject_id=str(subject_id),
        amount_fen=amount_fen,
        method=PayMethod(choice.method),
        now=now,
    )
    # A wallet's code or redirect is offered while the thing is held, and no longer than
    # reconciliation lets a payment wait for its buyer.
    offer_until = now + REQUIRES_ACTION_EXPIRES_AFTER
    if pay_until is not None:
        offer_until = min(offer_until, pay_until)
    try:
        return await _charge(provider, payment, choice, now=now, offer_until=offer_until)
    finally:
        # This request is done with the provider: a retry may now settle what it left open.
        await Payment.filter(id=payment.id, in_flight_until__isnull=False).update(
            in_flight_until=None
        )


async def _charge(
    provider: PaymentProvider,
    payment: Payment,
    choice: CheckedChoice,
    *,
    now: datetime,
    offer_until: datetime,
) -> PaymentResult:
    try:
        intent = await provider.create_intent(
            amount=payment.amount_fen,
            currency=CURRENCY,
            method=choice.method,
            payment_method=choice.payment_method,
            metadata={
                "payment_id": str(payment.id),
                "purpose": payment.purpose,
                "subject_id": payment.subject_id,
            },
            idempotency_key=f"shuyuan-intent-{payment.id}",
        )
    except ProviderUnavailable as exc:
        # Nothing was confirmed, so nothing can have been charged.
        await settle_failed(payment.id, code="provider_unavailable", message=str(exc)[:300])
        raise PaymentUnavailable() from exc
    except ProviderDeclined as exc:
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        return PaymentResult(Outcome.FAILED, await _reload(payment), code=exc.code)
    except ProviderError as exc:
        # Amount and currency are ours and valid: what the provider refuses is the method.
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        raise ValidationError("payment_method", "is not a usable payment method") from exc

    await Payment.filter(id=payment.id).update(
        provider_intent_id=intent.id, action_expires_at=offer_until
    )
    try:
        confirmed = await provider.confirm_intent(
            intent.id,
            idempotency_key=f"shuyuan-confirm-{payment.id}",
            method=choice.method,
            return_url=choice.return_url,
        )
    except ProviderError as exc:  # a decline, or the intent refused (canceled meanwhile)
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        return PaymentResult(Outcome.FAILED, await _reload(payment), code=exc.code)
    except ProviderUnavailable as exc:
        # The confirm may or may not have reached the provider: ask once; if the provider
        # cannot say either, the payment stays pending and is settled by a retry or later.
        try:
            result = await settle_from_provider(provider, payment.id, now=now, abandon=True)
        except ProviderUnavailable:
            raise PaymentUnavailable() from exc
        if result.outcome in (Outcome.FAILED, Outcome.PENDING):
            raise PaymentUnavailable() from exc
        return result
    return await apply_intent(provider, payment.id, confirmed, now=now)


async def _open_payment(
    *,
    provider: PaymentProvider,
    user_id: int,
    purpose: str,
    subject_id: str,
    amount_fen: int,
    method: PayMethod,
    now: datetime,
) -> Payment:
    key = f"{purpose}:{subject_id}"
    for _ in range(2):
        try:
            return await Payment.create(
                user_id=user_id,
                purpose=purpose,
                subject_id=subject_id,
                amount_fen=amount_fen,
                method=method,
                currency=CURRENCY,
                status=PaymentStatus.PENDING,
                active_key=key,
                in_flight_until=now + IN_FLIGHT_FOR,
            )
        except IntegrityError:
            existing = await Payment.get_or_none(active_key=key)
            if existing is None:
                continue  # it failed meanwhile, releasing the key: try once more
        if existing.status in (
            PaymentStatus.SUCCEEDED,
            PaymentStatus.REFUNDED,
            PaymentStatus.DISPUTED,  # recorded as paid: an admin decides, not a second charge
        ):
            raise AlreadyPaid()
        if existing.in_flight_until is not None and existing.in_flight_until > now:
            raise PaymentInProgress()  # another request (a double click) is still at it
        # An open payment no request is handling: its confirm timed out, or 3-D Secure was
        # left for another card. Settle it with the provider, canceling it if it was not paid.
        try:
            result = await settle_from_provider(provider, existing.id, now=now, abandon=True)
        except ProviderUnavailable as exc:
            raise PaymentUnavailable() from exc
        if result.outcome == Outcome.PAID:
            raise AlreadyPaid()
        if result.outcome != Outcome.FAILED:
            raise PaymentInProgress()
    raise PaymentInProgress()


async def _reload(payment: Payment) -> Payment:
    return await Payment.get(id=payment.id)


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


# What an intent that did not go through says of itself at the provider.
FAILED_INTENTS = ("requires_payment_method", "canceled")
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
    payment_id = intent.metadata.get("payment_id", "")
    if not payment_id.isdigit():
        return None
    payment = await Payment.get_or_none(id=int(payment_id), provider_intent_id__isnull=True)
    if payment is None or not _metadata_names(intent, payment):
        return None
    return payment


def _metadata_names(intent: Intent, payment: Payment) -> bool:
    """Whether the metadata we sent with an intent names this payment, all of it."""
    return (
        intent.metadata.get("payment_id") == str(payment.id)
        and intent.metadata.get("purpose") == payment.purpose
        and intent.metadata.get("subject_id") == payment.subject_id
    )


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
    return counts


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
    ).only("id", "status", "provider_intent_id", "amount_fen", "currency")
    for payment in unconfirmed:
        assert payment.provider_intent_id is not None
        try:
            intent = await provider.retrieve_intent(payment.provider_intent_id)
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
