"""Payments' rules, as the rest of Shuyuan calls them: pay for a thing once (payments.pay),
refund, apply the provider's notifications (payments.notifications), reconcile what was left
open (payments.reconcile), and read payments back. The provider is built here."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast
from urllib.parse import urlencode

from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

import links
from accounts import audit
from accounts.models import User
from errors import ValidationError
from payments.alipay_provider import AlipayProvider
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
    Refund,
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
    description_of,
    metadata_of,
    origin_of,
    pay,
)
from payments.provider import (
    WALLETS,
    Method,
    Payer,
    PaymentProvider,
    ProviderError,
    ProviderSignatureError,
    ProviderUnavailable,
)
from payments.providers import Providers, of_payment
from payments.purposes import Fulfilment, PurposeHandlers, Purposes, handlers_for
from payments.reconcile import CONFIRM_WITHIN, confirm_recent_successes, reconcile
from payments.settle import (
    Outcome,
    PaymentResult,
    close_before_release,
    settle_from_provider,
    settle_late_success,
)
from payments.stripe_provider import StripeProvider
from payments.wechatpay_provider import WechatPayProvider
from settings import Settings, SettingsError

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
EXPORT_BATCH = 1000  # payments read at a time for an export


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


# payments.routes: where WeChat Pay and Alipay send their notifications.
NOTIFY_PATH = "/payments/notify/wechatpay"
ALIPAY_NOTIFY_PATH = "/payments/notify/alipay"


def providers_for(settings: Settings) -> PaymentProvider:
    """The providers the settings name, as one: each method's new payments go where
    Settings.providers says (Stripe, localstripe in development, by default; WeChat Pay's and
    Alipay's own APIs with their accounts), only the methods of Settings.payment_methods are
    offered, and every configured provider answers for the payments it took (reads, closes,
    refunds, notifications) whether it is offered now or not (Payment.provider). In
    development, a direct provider whose keys were never made (its stand-in makes them: `make
    run`) is left out, said once in the log, unless it is offered."""
    stripe_provider = make_provider(
        api_base=settings.stripe_api_base,
        secret_key=settings.stripe_secret_key,
        webhook_secret=settings.stripe_webhook_secret,
        methods=settings.payment_methods,
    )
    direct: dict[str, PaymentProvider] = {}
    for name, build in (("wechatpay", _wechat_pay_provider), ("alipay", _alipay_provider)):
        offered = name in dict(settings.providers).values()
        built = build(settings, required=offered)
        if built is not None:
            direct[name] = built
    if not direct:
        return stripe_provider
    by_method: dict[Method, PaymentProvider] = {
        cast(Method, method): direct.get(settings.provider_of(method), stripe_provider)
        for method in settings.payment_methods
    }
    return Providers(by_method, webhooks=stripe_provider, also=tuple(direct.values()))


def _key_files(
    settings: Settings, name: str, paths: Sequence[Path], *, required: bool
) -> list[bytes] | None:
    """The key files' contents; None (said in the log) when one cannot be read in development
    and the provider is not offered, else SettingsError."""
    try:
        return [path.read_bytes() for path in paths]
    except OSError as exc:
        if settings.is_production or required:
            raise SettingsError(f"{name}'s key cannot be read: {exc}") from exc
        log.warning("%s's development keys are missing (%s): left out", name, exc)
        return None


def _wechat_pay_provider(settings: Settings, *, required: bool) -> WechatPayProvider | None:
    account = settings.wechat_pay
    if account is None:
        return None
    paths = [account.private_key] + ([account.public_key] if account.public_key else [])
    keys = _key_files(settings, "WeChat Pay", paths, required=required)
    if keys is None:
        return None
    private_key = keys[0]
    public_key = keys[1] if account.public_key else None
    return WechatPayProvider(
        api_base=settings.wechatpay_api_base,
        mchid=account.mchid,
        appid=account.appid,
        merchant_serial=account.merchant_serial,
        private_key_pem=private_key,
        apiv3_key=account.apiv3_key,
        notify_url=settings.public_url.rstrip("/") + NOTIFY_PATH,
        public_key=(
            (account.public_key_id, public_key)
            if account.public_key_id is not None and public_key is not None
            else None
        ),
    )


def _alipay_provider(settings: Settings, *, required: bool) -> AlipayProvider | None:
    account = settings.alipay
    if account is None:
        return None
    keys = _key_files(
        settings, "Alipay", [account.app_private_key, account.alipay_public_key], required=required
    )
    if keys is None:
        return None
    return AlipayProvider(
        gateway=settings.alipay_gateway,
        app_id=account.app_id,
        app_private_key_pem=keys[0],
        alipay_public_key_pem=keys[1],
        notify_url=settings.public_url.rstrip("/") + ALIPAY_NOTIFY_PATH,
    )


def direct_provider(provider: PaymentProvider, name: str) -> PaymentProvider | None:
    """The provider `name` (wechatpay, alipay: a wallet's own API) among the app's, offered
    for new payments or not, if one is configured."""
    every = provider.every() if isinstance(provider, Providers) else (provider,)
    return next((one for one in every if one.name == name), None)


def returned_trade(provider: PaymentProvider, params: Mapping[str, str]) -> str | None:
    """The out_trade_no of Alipay's synchronous return in `params` (the buyer's browser back
    on the waiting page) if Alipay signed it for our application; None for none, or a forged
    one (said in the log). Never proof of payment: the waiting page asks Alipay all the same
    (refresh_payment), and only Alipay's answer to that query moves money."""
    if "sign" not in params or "out_trade_no" not in params:
        return None
    alipay = direct_provider(provider, "alipay")
    if not isinstance(alipay, AlipayProvider):
        return None
    try:
        return alipay.verify_return(params)
    except ProviderSignatureError as exc:
        log.warning("an Alipay return that Alipay did not sign: %s", str(exc)[:200])
        return None


async def settle_returned(
    provider: PaymentProvider, out_trade_no: str, *, user_id: int, now: datetime
) -> None:
    """The buyer is back from Alipay naming a payment of theirs (a verified return): if it
    was given up on (failed) it is read back now, and a success settled late (delivered, or
    refunded in full). An open one is settled by the waiting page itself. Alipay unreachable:
    reconciliation reads it back later."""
    payment = await Payment.get_or_none(provider_intent_id=out_trade_no, user_id=user_id)
    if payment is None or payment.status != PaymentStatus.FAILED:
        return
    try:
        await settle_late_success(provider, payment.id, now=now)
    except ProviderUnavailable:
        log.warning("payment %s: returned from Alipay, which cannot be asked now", payment.id)


def paying_page_of(payment: Payment) -> str:
    """The absolute URL of the page where the buyer of `payment` waits for it (the purpose's
    paying_page), else the home page."""
    try:
        page = handlers_for(payment.purpose).paying_page
    except LookupError:
        page = None
    if page is None or not payment.subject_id.isdigit():
        return links.join("/")
    return links.absolute(page, id=int(payment.subject_id))


async def fresh_h5_url(
    provider: PaymentProvider, payment: Payment, *, address: str, back: str, now: datetime
) -> str | None:
    """A fresh h5_url for an h5 payment still waiting for its buyer (WeChat's lives five
    minutes), coming back to `back`; None when the payment no longer waits (it settled, or
    its time ran out) or WeChat Pay would not place it again: the waiting page says why.
    Raises PaymentUnavailable when WeChat Pay cannot be reached."""
    if (
        payment.status != PaymentStatus.REQUIRES_ACTION
        or payment.provider_intent_id is None
        or (payment.action_expires_at is not None and payment.action_expires_at <= now)
    ):
        return None
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None  # WeChat takes the payer's IP address; "unknown" is none
    try:
        action = await of_payment(provider, payment.provider).refresh_action(
            payment.provider_intent_id,
            amount=payment.amount_fen,
            currency=payment.currency,
            metadata=metadata_of(payment),
            flow="h5",
            payer=Payer(address=address),
            expires_at=payment.action_expires_at,
            description=description_of(payment),
        )
    except ProviderUnavailable as exc:
        raise PaymentUnavailable() from exc
    except ProviderError:
        log.warning("payment %s: WeChat Pay would not place it again", payment.id)
        return None
    if not action.url:
        return None
    return f"{action.url}&{urlencode({'redirect_url': back})}"


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


async def payment_for_user(payment_id: int, *, user_id: int, may_read_any: bool = False) -> Payment:
    """The payment, if it is the user's, or any payment for staff who may read payments
    (`may_read_any`: the caller's `may(Capability.PAYMENTS)`). Raises PaymentNotFound."""
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or (payment.user_id != user_id and not may_read_any):  # type: ignore[attr-defined]
        raise PaymentNotFound()
    return payment


def _payments(method: str | None, status: str | None) -> QuerySet[Payment]:
    query = Payment.all()
    if method is not None:
        query = query.filter(method=PayMethod(method))
    if status is not None:
        query = query.filter(status=PaymentStatus(status))
    return query


async def latest_payments(
    *, method: str | None = None, status: str | None = None, limit: int = 100
) -> list[Payment]:
    """The latest payments first (with their payer), of one method or status if given."""
    return await (
        _payments(method, status).select_related("user").order_by("-id").limit(min(limit, 500))
    )


async def all_payments(
    *, method: str | None = None, status: str | None = None
) -> AsyncIterator[Payment]:
    """Every payment (with its payer) of one method or status if given, oldest first, read
    EXPORT_BATCH at a time by id: an export of 100,000 holds one batch in memory."""
    last = 0
    while True:
        batch = (
            await _payments(method, status)
            .filter(id__gt=last)
            .select_related("user")
            .order_by("id")
            .limit(EXPORT_BATCH)
        )
        for payment in batch:
            yield payment
        if len(batch) < EXPORT_BATCH:
            return
        last = batch[-1].id


async def still_waiting(
    payment_id: int | None, *, method: str, flow: str | None, now: datetime
) -> PaymentResult | None:
    """The payment `payment_id` if it still waits for its buyer in `method` (and `flow`, when
    given) with its wallet's next action offered: a second tap resumes it rather than
    starting another (which would cancel it first). None otherwise."""
    if payment_id is None:
        return None
    payment = await Payment.get_or_none(id=payment_id)
    if (
        payment is None
        or payment.status != PaymentStatus.REQUIRES_ACTION
        or payment.method.value != method
        or (flow is not None and payment.flow != flow)
        or payment.action_url is None
        or payment.action_expires_at is None
        or payment.action_expires_at <= now
    ):
        return None
    return PaymentResult(Outcome.REQUIRES_ACTION, payment)


async def last_paid_with(user_id: int, purpose: str) -> str | None:
    """How `user_id` last paid for a thing of `purpose` (card, wechat_pay, alipay), if ever:
    what a renewal offers first."""
    payment = (
        await Payment.filter(user_id=user_id, purpose=purpose, succeeded_at__isnull=False)
        .order_by("-succeeded_at", "-id")
        .only("method")
        .first()
    )
    return payment.method.value if payment is not None else None


async def count_disputed() -> int:
    """Payments recorded as paid that the provider does not confirm (for an admin to check)."""
    return await Payment.filter(status=PaymentStatus.DISPUTED).count()


async def refund(
    *,
    provider: PaymentProvider,
    payment_id: int,
    amount_fen: int | None = None,
    now: datetime,
    actor: User | None = None,
    recorded_as: tuple[str, object] | None = None,
) -> Payment:
    """Refund part (amount_fen) or the rest of a succeeded payment; tell its purpose. Every
    call is a staff member's refund (`actor`; None: the command line): automatic refunds of
    refused payments are payments.settle's.

    The refunded total can never exceed the amount paid: the amount is reserved with a guarded
    UPDATE before the provider is asked, and given back if the provider refuses.

    The provider's refund and our rows cannot share a transaction (no transaction is held
    open across the provider's call). What is atomic: once the provider has refunded, the
    payment's new status, what its purpose does (on_refunded: an order or enrollment ends)
    and the audit entry "<type>.refund" are one transaction, the entry against `recorded_as`
    (object type, id; None: the payment itself) with the payment's refunded_fen and status
    before and after. When the provider refuses or cannot be reached, giving the reservation
    back and the entry "<type>.refund_failed" (the error's code) are one transaction, and the
    error is raised: nothing else changed. Should the process die between the provider's
    answer and that commit, the amount stays reserved (nothing can be refunded twice) and
    no entry is written.

    Raises PaymentNotFound, NotRefundable, RefundTooLarge, ValidationError, PaymentUnavailable.
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
    object_type, object_id = recorded_as or ("payment", payment.id)
    before = {
        "payment_id": payment.id,
        "status": payment.status,
        "refunded_fen": already.refunded_fen - amount,
    }
    try:
        await of_payment(provider, payment.provider).refund(
            payment.provider_intent_id,
            amount=amount,
            idempotency_key=f"shuyuan-refund-{payment.id}-{already.refunded_fen}",
        )
    except (ProviderUnavailable, ProviderError) as exc:
        failure: PaymentUnavailable | NotRefundable = (
            PaymentUnavailable()
            if isinstance(exc, ProviderUnavailable)
            else NotRefundable(exc.message)
        )
        async with in_transaction():
            await Payment.filter(id=payment.id).update(refunded_fen=F("refunded_fen") - amount)
            await audit.record(
                actor=actor,
                action=f"{object_type}.refund_failed",
                object_type=object_type,
                object_id=object_id,
                before=before,
                after={**before, "refund_fen": amount, "error": failure.code},
                now=now,
            )
        raise failure from exc
    async with in_transaction():
        await Payment.filter(
            id=payment.id, status=PaymentStatus.SUCCEEDED, refunded_fen=F("amount_fen")
        ).update(status=PaymentStatus.REFUNDED)
        await Refund.create(payment_id=payment.id, amount_fen=amount, created_at=now)
        refunded = await Payment.get(id=payment.id)
        handlers = handlers_for(payment.purpose)
        if handlers.on_refunded is not None:
            await handlers.on_refunded(refunded, amount)
        await audit.record(
            actor=actor,
            action=f"{object_type}.refund",
            object_type=object_type,
            object_id=object_id,
            before=before,
            after={
                "payment_id": payment.id,
                "status": refunded.status,
                "refunded_fen": refunded.refunded_fen,
                "refund_fen": amount,
            },
            now=now,
        )
    return refunded
