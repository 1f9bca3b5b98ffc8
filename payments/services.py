"""Payments' rules: pay for a thing once, settle by provider answers and webhooks, refund."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from errors import ValidationError
from payments.errors import (
    AlreadyPaid,
    InvalidSignature,
    NotRefundable,
    PaymentInProgress,
    PaymentNotFound,
    PaymentUnavailable,
    RefundTooLarge,
)
from payments.models import OPEN_STATUSES, Payment, PaymentStatus, WebhookEvent
from payments.provider import (
    Intent,
    ProviderDeclined,
    ProviderError,
    ProviderSignatureError,
    ProviderUnavailable,
    StripeProvider,
    intent_from_webhook,
)

log = logging.getLogger(__name__)

CURRENCY = "cny"
MAX_AMOUNT_FEN = 100_000_000  # one million yuan: anything above is a mistake
# A pending payment younger than this may still be in another request's hands (two provider
# calls, each bounded by PROVIDER_TIMEOUT); older ones are asked about and settled.
PENDING_STALE_AFTER = timedelta(seconds=30)
# A payment waiting for 3-D Secure this long is abandoned: canceled, and its thing released.
REQUIRES_ACTION_EXPIRES_AFTER = timedelta(minutes=15)
_PAYMENT_METHOD = re.compile(r"^pm_[A-Za-z0-9_]{1,96}$")
_PURPOSE = re.compile(r"^[a-z][a-z_]{0,39}$")

PaymentHook = Callable[[Payment], Awaitable[None]]
RefundHook = Callable[[Payment, int], Awaitable[None]]


@dataclass(frozen=True)
class PurposeHandlers:
    """What a package does when a payment for its things succeeds, fails or is refunded.

    on_succeeded and on_failed run inside the transaction that records the outcome, exactly once
    per payment; if one raises, the outcome is not recorded and is settled again later.
    """

    on_succeeded: PaymentHook
    on_failed: PaymentHook | None = None
    on_refunded: RefundHook | None = None


_purposes: dict[str, PurposeHandlers] = {}


def register_purpose(name: str, handlers: PurposeHandlers) -> None:
    """Register (or replace) the handlers of a purpose such as "membership" or "order"."""
    if not _PURPOSE.match(name):
        raise ValueError(f"purpose names are lower_snake_case: {name!r}")
    _purposes[name] = handlers


def _handlers(purpose: str) -> PurposeHandlers:
    try:
        return _purposes[purpose]
    except KeyError:
        raise LookupError(f"no payment handlers registered for purpose {purpose!r}") from None


class Outcome(StrEnum):
    PAID = "paid"
    REQUIRES_ACTION = "requires_action"
    FAILED = "failed"
    PENDING = "pending"


@dataclass(frozen=True)
class PaymentResult:
    outcome: Outcome
    payment: Payment
    client_secret: str | None = None  # for the browser's 3-D Secure step
    reason: str | None = None  # the provider's words when it failed

    def answer(self) -> dict[str, object]:
        """The API answer to "pay for this": status paid|requires_action|failed (a payment the
        provider is still processing reads as requires_action: the client looks again)."""
        status = Outcome.REQUIRES_ACTION if self.outcome == Outcome.PENDING else self.outcome
        return {
            "status": status.value,
            "payment_id": self.payment.id,
            "client_secret": self.client_secret,
            "reason": self.reason,
        }


def make_provider(*, api_base: str, secret_key: str, webhook_secret: str) -> StripeProvider:
    return StripeProvider(api_base=api_base, secret_key=secret_key, webhook_secret=webhook_secret)


async def pay(
    *,
    provider: StripeProvider,
    user_id: int,
    purpose: str,
    subject_id: str,
    amount_fen: int,
    payment_method: str,
    now: datetime,
) -> PaymentResult:
    """Charge `amount_fen` for one thing (purpose + subject_id) with a Stripe PaymentMethod id.

    At most one payment per thing is open or paid at a time (Payment.active_key). Returns PAID,
    REQUIRES_ACTION (with the client secret for 3-D Secure), FAILED (with the provider's reason)
    or PENDING (the provider's answer is still to come). Raises ValidationError, AlreadyPaid,
    PaymentInProgress, or PaymentUnavailable when the provider cannot be reached (then nothing
    was charged, or the payment stays pending and reconciliation settles it).
    """
    _handlers(purpose)
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ValidationError("amount_fen", "must be a positive whole number of fen")
    if amount_fen > MAX_AMOUNT_FEN:
        raise ValidationError("amount_fen", f"must be at most {MAX_AMOUNT_FEN}")
    if not isinstance(payment_method, str) or not _PAYMENT_METHOD.match(payment_method):
        raise ValidationError("payment_method", "must be a payment method id (pm_...)")

    payment = await _open_payment(
        provider=provider,
        user_id=user_id,
        purpose=purpose,
        subject_id=str(subject_id),
        amount_fen=amount_fen,
        now=now,
    )
    try:
        intent = await provider.create_intent(
            amount=amount_fen,
            currency=CURRENCY,
            payment_method=payment_method,
            metadata={
                "payment_id": str(payment.id),
                "purpose": purpose,
                "subject_id": payment.subject_id,
            },
            idempotency_key=f"shuyuan-intent-{payment.id}",
        )
    except ProviderUnavailable as exc:
        # Nothing was confirmed, so nothing can have been charged: free the thing at once.
        await settle_failed(payment.id, code="provider_unavailable", message=str(exc)[:300])
        raise PaymentUnavailable() from exc
    except ProviderDeclined as exc:
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        return PaymentResult(Outcome.FAILED, await _reload(payment), reason=exc.message)
    except ProviderError as exc:
        # Amount and currency are ours and valid: what the provider refuses is the method.
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        raise ValidationError("payment_method", "is not a usable payment method") from exc

    await Payment.filter(id=payment.id).update(provider_intent_id=intent.id)
    try:
        confirmed = await provider.confirm_intent(
            intent.id, idempotency_key=f"shuyuan-confirm-{payment.id}"
        )
    except ProviderDeclined as exc:
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        return PaymentResult(Outcome.FAILED, await _reload(payment), reason=exc.message)
    except ProviderError as exc:
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        return PaymentResult(Outcome.FAILED, await _reload(payment), reason=exc.message)
    except ProviderUnavailable as exc:
        # The confirm may or may not have reached the provider: ask once; if the provider
        # cannot say either, the payment stays pending and reconciliation settles it.
        try:
            result = await settle_from_provider(provider, payment.id, now=now, abandon=True)
        except ProviderUnavailable:
            raise PaymentUnavailable() from exc
        if result.outcome in (Outcome.FAILED, Outcome.PENDING):
            raise PaymentUnavailable() from exc
        return result
    return await _apply_intent(payment.id, confirmed, now=now)


async def _open_payment(
    *,
    provider: StripeProvider,
    user_id: int,
    purpose: str,
    subject_id: str,
    amount_fen: int,
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
                currency=CURRENCY,
                status=PaymentStatus.PENDING,
                active_key=key,
            )
        except IntegrityError:
            existing = await Payment.get_or_none(active_key=key)
            if existing is None:
                continue  # it failed meanwhile, releasing the key: try once more
        if existing.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            raise AlreadyPaid()
        if now - existing.updated_at < PENDING_STALE_AFTER:
            raise PaymentInProgress()  # another request (a double click) is still at it
        # A stale pending payment, or one waiting for 3-D Secure that the buyer gave up on to
        # try another card: settle it with the provider, canceling it if it was not paid.
        result = await settle_from_provider(provider, existing.id, now=now, abandon=True)
        if result.outcome == Outcome.PAID:
            raise AlreadyPaid()
        if result.outcome != Outcome.FAILED:
            raise PaymentInProgress()
    raise PaymentInProgress()


async def _reload(payment: Payment) -> Payment:
    return await Payment.get(id=payment.id)


async def _apply_intent(payment_id: int, intent: Intent, *, now: datetime) -> PaymentResult:
    """Record what the provider says of a payment's intent, and say what it means."""
    if intent.status == "succeeded":
        await settle_succeeded(payment_id, intent, now=now)
        payment = await Payment.get(id=payment_id)
        return PaymentResult(Outcome.PAID, payment)
    if intent.status == "requires_action":
        await Payment.filter(id=payment_id, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.REQUIRES_ACTION, client_secret=intent.client_secret
        )
        payment = await Payment.get(id=payment_id)
        return PaymentResult(Outcome.REQUIRES_ACTION, payment, client_secret=intent.client_secret)
    if intent.status in ("requires_payment_method", "canceled"):
        code = intent.error_code or ("canceled" if intent.status == "canceled" else "failed")
        message = intent.error_message or "The payment did not go through."
        await settle_failed(payment_id, code=code, message=message)
        return PaymentResult(Outcome.FAILED, await Payment.get(id=payment_id), reason=message)
    return PaymentResult(Outcome.PENDING, await Payment.get(id=payment_id))


async def settle_succeeded(payment_id: int, intent: Intent, *, now: datetime) -> bool:
    """Record a payment as paid and fulfil it, once. True if this call did the fulfilment.

    Safe to call any number of times, concurrently, in any order with settle_failed: the
    conditional UPDATE lets exactly one caller move the payment to succeeded, and that caller
    runs the purpose's on_succeeded in the same transaction. A success reported for a payment
    already marked failed still counts (the provider has the money); if another payment for the
    same thing was made meanwhile, this one is refunded instead of fulfilled.
    """
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
        return False
    if intent.amount != payment.amount_fen or intent.currency.lower() != payment.currency:
        log.error("payment %s: provider reports %s %s", payment.id, intent.amount, intent.currency)
        return False
    if payment.status == PaymentStatus.FAILED:
        taken = await Payment.filter(active_key=payment.thing_key).exclude(id=payment.id).exists()
        if taken:
            await _mark_duplicate(payment, now=now)
            return False
    handlers = _handlers(payment.purpose)
    async with in_transaction():
        # Invariant "fulfilled at most once": only the caller whose UPDATE matches fulfils.
        moved = await Payment.filter(
            id=payment.id,
            status__in=[*OPEN_STATUSES, PaymentStatus.FAILED],
            fulfilled_at__isnull=True,
        ).update(
            status=PaymentStatus.SUCCEEDED,
            active_key=payment.thing_key,
            provider_intent_id=intent.id,
            failure_code=None,
            failure_message=None,
            client_secret=None,
            fulfilled_at=now,
        )
        if moved != 1:
            return False
        await handlers.on_succeeded(await Payment.get(id=payment.id))
    return True


async def _mark_duplicate(payment: Payment, *, now: datetime) -> None:
    """A late success for a thing paid for by another payment: keep it as failed, flagged.

    The refund itself needs the provider; reconciliation's refund_duplicates() makes it.
    """
    await Payment.filter(id=payment.id, status=PaymentStatus.FAILED).update(
        failure_code="duplicate_to_refund",
        failure_message="Paid after another payment for the same thing; to be refunded.",
    )
    log.warning("payment %s succeeded after its thing was paid for again; refunding", payment.id)


async def settle_failed(payment_id: int, *, code: str, message: str) -> bool:
    """Record an open payment as failed, release its thing, and tell its purpose, once.

    A failure never overrides a success: only pending or requires_action payments move.
    """
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None:
        return False
    handlers = _handlers(payment.purpose)
    async with in_transaction():
        moved = await Payment.filter(id=payment_id, status__in=list(OPEN_STATUSES)).update(
            status=PaymentStatus.FAILED,
            active_key=None,
            failure_code=code[:60],
            failure_message=message[:300],
            client_secret=None,
        )
        if moved != 1:
            return False
        if handlers.on_failed is not None:
            await handlers.on_failed(await Payment.get(id=payment_id))
    return True


async def settle_from_provider(
    provider: StripeProvider, payment_id: int, *, now: datetime, abandon: bool = False
) -> PaymentResult:
    """Ask the provider about an open payment and record its answer.

    With `abandon`, an intent that was never confirmed, or is still waiting for 3-D Secure, is
    canceled and the payment fails. Raises ProviderUnavailable when the provider cannot answer.
    """
    payment = await Payment.get(id=payment_id)
    if payment.status not in OPEN_STATUSES:
        outcome = {
            PaymentStatus.SUCCEEDED: Outcome.PAID,
            PaymentStatus.REFUNDED: Outcome.PAID,
        }.get(payment.status, Outcome.FAILED)
        return PaymentResult(outcome, payment)
    if payment.provider_intent_id is None:
        # The intent was never created (or its creation never returned): nothing confirmed.
        await settle_failed(payment.id, code="abandoned", message="The payment never started.")
        return PaymentResult(Outcome.FAILED, await _reload(payment))
    try:
        intent = await provider.retrieve_intent(payment.provider_intent_id)
    except ProviderError as exc:  # the provider does not know the intent
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        return PaymentResult(Outcome.FAILED, await _reload(payment), reason=exc.message)
    unconfirmed = intent.status in ("requires_confirmation", "requires_payment_method")
    if abandon and (unconfirmed or intent.status == "requires_action"):
        try:
            intent = await provider.cancel_intent(intent.id)
        except ProviderError:
            intent = await provider.retrieve_intent(intent.id)  # it moved on meanwhile
        if intent.status == "canceled":
            await settle_failed(payment.id, code="canceled", message="The payment was canceled.")
            return PaymentResult(Outcome.FAILED, await _reload(payment))
    return await _apply_intent(payment.id, intent, now=now)


async def refresh_payment(
    provider: StripeProvider, payment_id: int, *, now: datetime, abandon: bool = False
) -> Payment:
    """The payment, settled with the provider first if it is still open and the provider
    answers (after 3-D Secure the provider knows before our webhook arrives); as stored if not.
    """
    payment = await Payment.get(id=payment_id)
    if payment.status not in OPEN_STATUSES:
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


async def refund(
    *,
    provider: StripeProvider,
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
    handlers = _handlers(payment.purpose)
    if handlers.on_refunded is not None:
        await handlers.on_refunded(refunded, amount)
    return refunded


async def handle_webhook(
    *, provider: StripeProvider, payload: bytes, signature: str | None, now: datetime
) -> str:
    """Apply one signed provider event; returns what was done ("applied", "duplicate", ...).

    Each event id is recorded once, in the transaction that applies it, so a redelivered event
    is acknowledged and ignored. Events may arrive in any order and before or after our own
    confirm call returns: settle_succeeded/settle_failed make the outcome the same. Raises
    InvalidSignature.
    """
    try:
        message = provider.verify_webhook(payload, signature)
    except ProviderSignatureError as exc:
        raise InvalidSignature(str(exc)[:200]) from exc
    if not message.type.startswith("payment_intent."):
        return "ignored"
    intent = intent_from_webhook(message)
    payment = await _payment_for_intent(intent)
    if payment is None:
        return "unknown_payment"
    try:
        async with in_transaction():
            await WebhookEvent.create(event_id=message.id, type=message.type, payment_id=payment.id)
            if message.type == "payment_intent.succeeded":
                await settle_succeeded(payment.id, intent, now=now)
            elif message.type in ("payment_intent.payment_failed", "payment_intent.canceled"):
                await settle_failed(
                    payment.id,
                    code=intent.error_code or message.type.rpartition(".")[2],
                    message=intent.error_message or "The payment did not go through.",
                )
    except IntegrityError:
        return "duplicate"
    return "applied"


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
    if payment is None or (
        intent.metadata.get("purpose") != payment.purpose
        or intent.metadata.get("subject_id") != payment.subject_id
    ):
        return None
    return payment


async def reconcile(provider: StripeProvider, *, now: datetime) -> dict[str, int]:
    """Settle payments left open: the webhook that never came, the 3-D Secure never finished.

    Pending payments older than PENDING_STALE_AFTER are asked about; payments waiting for
    3-D Secure longer than REQUIRES_ACTION_EXPIRES_AFTER are canceled. Returns counts by outcome.
    """
    counts: dict[str, int] = {}
    open_payments = await Payment.filter(status__in=list(OPEN_STATUSES)).only(
        "id", "status", "updated_at"
    )
    work: list[tuple[int, bool]] = []
    for payment in open_payments:
        age = now - payment.updated_at
        if payment.status == PaymentStatus.PENDING and age >= PENDING_STALE_AFTER:
            work.append((payment.id, True))
        elif payment.status == PaymentStatus.REQUIRES_ACTION:
            work.append((payment.id, age >= REQUIRES_ACTION_EXPIRES_AFTER))
    for payment_id, abandon in work:
        try:
            result = await settle_from_provider(provider, payment_id, now=now, abandon=abandon)
            key = result.outcome.value
        except ProviderUnavailable:
            key = "unreachable"
        except LookupError:
            log.exception("payment %s: its purpose has no handlers", payment_id)
            key = "no_handlers"
        counts[key] = counts.get(key, 0) + 1
    refunded = await refund_duplicates(provider, now=now)
    if refunded:
        counts["duplicate_refunded"] = refunded
    return counts


async def refund_duplicates(provider: StripeProvider, *, now: datetime) -> int:
    """Give back money the provider took for a thing that another payment had already paid."""
    done = 0
    for payment in await Payment.filter(
        status=PaymentStatus.FAILED, failure_code="duplicate_to_refund"
    ):
        if payment.provider_intent_id is None:
            continue
        try:
            await provider.refund(
                payment.provider_intent_id,
                amount=payment.amount_fen,
                idempotency_key=f"shuyuan-refund-duplicate-{payment.id}",
            )
        except (ProviderUnavailable, ProviderError):
            continue
        await Payment.filter(id=payment.id, failure_code="duplicate_to_refund").update(
            failure_code="duplicate_refunded", refunded_fen=payment.amount_fen
        )
        done += 1
    return done
