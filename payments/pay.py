"""Paying for one thing once: the buyer's choice checked, the payment opened (at most one open
or paid per thing), the provider asked to create and confirm it, and its answer applied."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from tortoise.exceptions import IntegrityError

import metrics
from accounts import consents
from errors import DomainError, ValidationError
from payments.errors import (
    AlreadyPaid,
    PaymentInProgress,
    PaymentUnavailable,
)
from payments.models import (
    Payment,
    PaymentStatus,
    PayMethod,
)
from payments.provider import (
    FLOWS,
    MAX_URL_LENGTH,
    WALLETS,
    Flow,
    Method,
    Payer,
    PaymentProvider,
    ProviderDeclined,
    ProviderError,
    ProviderUnavailable,
)
from payments.providers import name_for, sends_abroad
from payments.purposes import handlers_for
from payments.settle import (
    Outcome,
    PaymentResult,
    apply_intent,
    settle_failed,
    settle_from_provider,
)

log = logging.getLogger(__name__)


CURRENCY = "cny"
MAX_AMOUNT_FEN = 100_000_000  # one million yuan: anything above is a mistake
# A request that pays is in the provider's hands for at most this long (a few provider calls,
# each bounded by PROVIDER_TIMEOUT); until then its payment is not settled by anyone else.
IN_FLIGHT_FOR = timedelta(seconds=30)
# A payment waiting for 3-D Secure this long is abandoned: canceled, and its thing released.
REQUIRES_ACTION_EXPIRES_AFTER = timedelta(minutes=15)
PAYMENT_METHOD_PATTERN = r"^pm_[A-Za-z0-9_]{1,96}$"
_PAYMENT_METHOD = re.compile(PAYMENT_METHOD_PATTERN)


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
    # WeChat Pay's flow (native, h5 or jsapi; None: the first the provider takes) and what it
    # needs of the payer (h5: their address; jsapi: their openid).
    flow: str | None = None
    payer: Payer | None = None


@dataclass(frozen=True)
class CheckedChoice:
    method: Method
    payment_method: str | None
    return_url: str | None
    flow: Flow = "card"
    payer: Payer | None = None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_choice(
    choice: PaymentChoice, offered: Sequence[str], flows: Collection[str] = ()
) -> CheckedChoice:
    """The choice if it is one of the two forms, a method `offered` and a flow of it among
    `flows`; else ValidationError (one form: {payment_method} for a card, or {method} for a
    wallet; card may be named too)."""
    method = choice.method if choice.method is not None else "card"
    if method not in ("card", *WALLETS):
        raise ValidationError("method", "must be card, wechat_pay or alipay")
    if method not in offered:
        raise ValidationError("method", "is not offered here; pay another way")
    flow = _checked_flow(method, choice, flows)
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
        return CheckedChoice("wechat_pay", None, None, flow, choice.payer)
    url = choice.return_url
    if url is None:
        raise ValidationError("return_url", "is required to pay with Alipay")
    if (
        len(url) > MAX_URL_LENGTH
        or urlsplit(url).scheme not in ("http", "https")
        or origin_of(url) not in {origin_of(o) for o in choice.site_origins}
    ):
        raise ValidationError("return_url", "must be a page of this site")
    return CheckedChoice("alipay", None, url, flow)


def _checked_flow(method: Method, choice: PaymentChoice, flows: Collection[str]) -> Flow:
    """The flow asked for, if the method has it and the provider takes it (the method's first
    the provider takes when none is asked for); what a flow needs of the payer is there."""
    taken = [flow for flow in FLOWS[method] if not flows or flow in flows]
    if choice.flow is None:
        return taken[0] if taken else FLOWS[method][0]
    if choice.flow not in FLOWS[method]:
        raise ValidationError(
            "flow", "must be native, h5 or jsapi for WeChat Pay, and page or wap for Alipay"
        )
    if choice.flow not in taken:
        raise ValidationError("flow", "is not offered here; pay another way")
    flow = choice.flow
    payer = choice.payer or Payer()
    if flow == "jsapi" and not payer.openid:
        raise ValidationError(
            "flow", "needs WeChat: sign in with WeChat inside WeChat, or pay another way"
        )
    if flow == "h5" and not _is_address(payer.address):
        # WeChat takes the payer's IP address (scene_info); "unknown" behind a socket is none.
        raise ValidationError("flow", "needs the payer's address")
    return flow


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
    payment stays pending until a retry or reconciliation asks the provider again), or
    ConsentRequired when the method's provider is abroad (a card through Stripe) and the
    person has not agreed to the current cross-border notice (PIPL art. 39, published terms
    or not; accounts.consents.check_cross_border).
    """
    try:
        checked = check_choice(
            choice or PaymentChoice(payment_method=payment_method),
            provider.methods,
            provider.flows,
        )
        if sends_abroad(provider, checked.method):
            await consents.check_cross_border(user_id)
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
        flow=choice.flow,
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
            metadata=metadata_of(payment),
            idempotency_key=f"shuyuan-intent-{payment.id}",
            flow=choice.flow,
            payer=choice.payer,
            expires_at=offer_until,
            description=description_of(payment),
            return_url=choice.return_url,
        )
    except ProviderUnavailable as exc:
        # Nothing was confirmed, so nothing can have been charged.
        await settle_failed(payment.id, code="provider_unavailable", message=str(exc)[:300])
        raise PaymentUnavailable() from exc
    except ProviderDeclined as exc:
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        return PaymentResult(Outcome.FAILED, await _reload(payment), code=exc.code)
    except ProviderError as exc:
        # Amount and currency are ours and valid: what the provider refuses is the method,
        # or where the buyer comes back to (Alipay takes 256 characters of it).
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        if exc.param == "return_url":
            raise ValidationError(
                "return_url", "must be at most 256 characters for Alipay"
            ) from exc
        raise ValidationError("payment_method", "is not a usable payment method") from exc

    await Payment.filter(id=payment.id).update(
        provider_intent_id=intent.id, action_expires_at=offer_until
    )
    if intent.status != "requires_confirmation":
        # Placing the order was its start (WeChat Pay; Alipay's signed page URL): it waits
        # for its buyer already.
        return await apply_intent(provider, payment.id, intent, now=now)
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
    flow: Flow,
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
                flow=flow,
                provider=name_for(provider, method.value),
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


def _is_address(text: str | None) -> bool:
    try:
        ipaddress.ip_address(text or "")
    except ValueError:
        return False
    return True


def metadata_of(payment: Payment) -> dict[str, str]:
    """What the provider keeps with a payment's intent, naming it (see notifications)."""
    return {
        "payment_id": str(payment.id),
        "purpose": payment.purpose,
        "subject_id": payment.subject_id,
    }


# What the payer's bill says of each purpose (WeChat Pay shows it in the payment record).
DESCRIPTIONS = {"order": "书院微店订单", "membership": "书院年度会员"}


def description_of(payment: Payment) -> str:
    return f"{DESCRIPTIONS.get(payment.purpose, '书院')} {payment.subject_id}"


async def _reload(payment: Payment) -> Payment:
    return await Payment.get(id=payment.id)
