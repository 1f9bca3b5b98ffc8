"""Recording what the provider says of a payment: succeeded (fulfil or refund), failed, open.

Every way an outcome arrives (our own confirm call, a webhook, a buyer's page asking after
3-D Secure, reconciliation) ends in these functions, so the outcome is the same whatever the
order and number of the reports.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlencode

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

import links
from payments import reasons
from payments.errors import PaymentInProgress, PaymentUnavailable
from payments.models import OPEN_STATUSES, Payment, PaymentStatus, PayMethod, Refund, Settlement
from payments.provider import (
    Intent,
    PaymentProvider,
    ProviderError,
    ProviderUnavailable,
    WalletAction,
)
from payments.providers import of_payment
from payments.purposes import Fulfilment, handlers_for


def utc_now() -> datetime:
    return datetime.now(UTC)


log = logging.getLogger(__name__)


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
    code: str | None = None  # why it failed, as the provider's error code

    @property
    def next_action(self) -> dict[str, object] | None:
        """What a wallet payment waits for, in the API's words (see wallet_action)."""
        if self.outcome != Outcome.REQUIRES_ACTION:
            return None
        return wallet_action(self.payment)

    @property
    def reason(self) -> str | None:
        """Why it failed, as a message id in our words (payments.reasons); None unless failed."""
        return reasons.sentence(self.code) if self.outcome == Outcome.FAILED else None

    def answer(self, translate: Callable[[str], str] = str) -> dict[str, object]:
        """The API answer to "pay for this": status paid|requires_action|failed (a payment the
        provider is still processing reads as requires_action: the client looks again); the
        reason of a failure in the caller's language (`translate`) and as `reason_code`."""
        status = Outcome.REQUIRES_ACTION if self.outcome == Outcome.PENDING else self.outcome
        return {
            "status": status.value,
            "payment_id": self.payment.id,
            "client_secret": self.client_secret,
            "reason": translate(self.reason) if self.reason else None,
            "reason_code": self.code if self.outcome == Outcome.FAILED else None,
            "next_action": self.next_action,
        }


def qr_image_path(payment_id: int) -> str:
    """Our own picture of a WeChat Pay payment's QR code (payments.routes draws it)."""
    return links.path("payments.qr_code", id=payment_id)


def h5_path(payment_id: int) -> str:
    """Our page that sends a WeChat Pay h5 buyer on to a fresh h5_url (payments.routes)."""
    return links.path("payments.wechat_h5", id=payment_id)


def wallet_action(payment: Payment) -> dict[str, object] | None:
    """The next step of a wallet payment still waiting for its buyer: scan the QR code
    (`qr_data`, our picture of it at `qr_image_url`, Stripe's hosted page for another device),
    follow the redirect (`url`: Alipay's page, or for WeChat Pay's h5 flow our page that
    sends the buyer on to WeChat), or call WeixinJSBridge with the signed parameters (WeChat
    Pay's jsapi flow); each offered until `expires_at`. None for anything else."""
    if payment.status != PaymentStatus.REQUIRES_ACTION or payment.action_url is None:
        return None
    expires = payment.action_expires_at.isoformat() if payment.action_expires_at else None
    if payment.flow == "h5":
        # Our page, which places the order again for a fresh h5_url (it lives five minutes);
        # `k` (kept in action_help_url) lets only whoever was given the link use it.
        url = links.join(h5_path(payment.id)) + "?" + urlencode({"k": payment.action_help_url})
        return {"type": "redirect", "url": url, "expires_at": expires}
    if payment.flow == "jsapi":
        return {"type": "wechat_pay_jsapi", **jsapi_parameters(payment), "expires_at": expires}
    if payment.method == PayMethod.WECHAT_PAY:
        return {
            "type": "wechat_pay_display_qr_code",
            "qr_data": payment.action_url,
            "qr_image_url": qr_image_path(payment.id),
            "hosted_instructions_url": payment.action_help_url,
            "expires_at": expires,
        }
    return {"type": "redirect", "url": payment.action_url, "expires_at": expires}


async def settle_succeeded(
    provider: PaymentProvider,
    payment_id: int,
    intent: Intent,
    *,
    now: datetime,
    refund_now: bool = True,
    confirmed: bool = True,
) -> bool:
    """Record a payment as succeeded and settle it: fulfilled, waiting, or refunded. True if
    this call did the settling. `intent` is the provider's own answer (a confirm, a read);
    `confirmed` is False only when it is our record of an earlier success (reconciliation
    settling a success it never settled), which must not count as the provider's word.

    Safe to call any number of times, concurrently, in any order with settle_failed: exactly
    one caller's conditional UPDATE records the success, and that caller asks the purpose to
    fulfil in the same transaction. A success reported for a payment marked failed still
    counts (the provider has the money). When the thing cannot be delivered any more (paid by
    another payment, sold out after a release, the sale over), the payment is refunded in
    full (at once, or by the caller when `refund_now` is False: inside a transaction); if the
    provider cannot refund now, reconciliation does it later.
    """
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or payment.status == PaymentStatus.REFUNDED:
        return False
    if payment.status == PaymentStatus.SUCCEEDED and payment.settlement is not None:
        return False
    if intent.amount != payment.amount_fen or intent.currency.lower() != payment.currency:
        log.error("payment %s: provider reports %s %s", payment.id, intent.amount, intent.currency)
        return False
    outcome: Fulfilment | None = None
    for _ in range(2):
        try:
            outcome = await _record_success(payment, intent.id, now=now, confirmed=confirmed)
            break
        except IntegrityError:
            # Another payment took the thing's active key between our look and our write:
            # the second round sees it taken and refuses this one.
            continue
    if outcome is None:
        return False
    if outcome == Fulfilment.REFUSED and refund_now:
        await refund_refused(provider, payment.id)
    return True


async def _record_success(
    payment: Payment, intent_id: str, *, now: datetime, confirmed: bool
) -> Fulfilment | None:
    handlers = handlers_for(payment.purpose)
    provider_said = {"confirmed_at": now} if confirmed else {}
    async with in_transaction():
        # One caller moves the payment: an open or failed one, or a succeeded one that has no
        # settlement yet (written before settlements were recorded, or never settled).
        moved = await Payment.filter(
            Q(status__in=[*OPEN_STATUSES, PaymentStatus.FAILED])
            | Q(status=PaymentStatus.SUCCEEDED, settlement__isnull=True),
            id=payment.id,
        ).update(
            status=PaymentStatus.SUCCEEDED,
            provider_intent_id=intent_id,
            failure_code=None,
            failure_message=None,
            client_secret=None,
            action_url=None,
            action_help_url=None,
            in_flight_until=None,
            succeeded_at=now,  # the day its money counts in (stats)
            **provider_said,
        )
        if moved != 1:
            return None
        # Invariant "never charge twice for one thing": a thing has at most one payment holding
        # its active key; a success for a thing that another payment holds is refused.
        taken = await Payment.filter(active_key=payment.thing_key).exclude(id=payment.id).exists()
        if taken:
            outcome = Fulfilment.REFUSED
        else:
            await Payment.filter(id=payment.id).update(active_key=payment.thing_key)
            outcome = await handlers.fulfil(await Payment.get(id=payment.id), now)
        # Invariant "every succeeded payment ends fulfilled once or refunded, never neither,
        # never both": the settlement is written with the success, in this transaction.
        if outcome == Fulfilment.FULFILLED:
            await Payment.filter(id=payment.id).update(
                settlement=Settlement.FULFILLED, fulfilled_at=now
            )
        elif outcome == Fulfilment.WAITING:
            await Payment.filter(id=payment.id).update(settlement=Settlement.WAITING)
        else:
            await Payment.filter(id=payment.id).update(
                settlement=Settlement.REFUND_DUE, active_key=None, fulfilled_at=None
            )
            log.warning("payment %s succeeded for a thing it cannot have: refunding", payment.id)
    return outcome


async def refund_refused(provider: PaymentProvider, payment_id: int) -> bool:
    """Give back the whole of a succeeded payment whose thing could not be delivered (its
    settlement is REFUND_DUE). True once refunded; False if the provider could not be
    reached or refused (reconciliation tries again every round)."""
    payment = await Payment.get_or_none(id=payment_id)
    if (
        payment is None
        or payment.settlement != Settlement.REFUND_DUE
        or payment.provider_intent_id is None
    ):
        return False
    amount = payment.amount_fen - payment.refunded_fen
    if amount > 0:
        try:
            await of_payment(provider, payment.provider).refund(
                payment.provider_intent_id,
                amount=amount,
                idempotency_key=f"shuyuan-refund-refused-{payment.id}",
            )
        except (ProviderUnavailable, ProviderError) as exc:
            log.warning("payment %s: automatic refund not made yet: %s", payment.id, exc)
            return False
    async with in_transaction():
        moved = await Payment.filter(id=payment.id, settlement=Settlement.REFUND_DUE).update(
            status=PaymentStatus.REFUNDED,
            refunded_fen=payment.amount_fen,
            settlement=Settlement.REFUNDED,
        )
        if moved and amount > 0:
            await Refund.create(
                payment_id=payment.id, amount_fen=amount, automatic=True, created_at=utc_now()
            )
    if moved:
        handlers = handlers_for(payment.purpose)
        if handlers.on_refused is not None:
            await handlers.on_refused(await Payment.get(id=payment.id))
    return bool(moved)


async def settle_failed(payment_id: int, *, code: str, message: str) -> bool:
    """Record an open payment as failed, once; its thing stays held (the buyer may try again
    until the hold runs out). A failure never overrides a success: only open payments move.
    """
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None:
        return False
    handlers = handlers_for(payment.purpose)
    async with in_transaction():
        moved = await Payment.filter(id=payment_id, status__in=list(OPEN_STATUSES)).update(
            status=PaymentStatus.FAILED,
            active_key=None,
            failure_code=code[:60],
            failure_message=message[:300],
            client_secret=None,
            action_url=None,
            action_help_url=None,
            in_flight_until=None,
        )
        if moved != 1:
            return False
        if handlers.on_failed is not None:
            await handlers.on_failed(await Payment.get(id=payment_id))
    return True


async def apply_intent(
    provider: PaymentProvider, payment_id: int, intent: Intent, *, now: datetime
) -> PaymentResult:
    """Record what the provider says of a payment's intent, and say what it means."""
    if intent.status == "succeeded":
        await settle_succeeded(provider, payment_id, intent, now=now)
        payment = await Payment.get(id=payment_id)
        return PaymentResult(Outcome.PAID, payment)
    if intent.status == "requires_action":
        await _wait_for_buyer(payment_id, intent)
        payment = await Payment.get(id=payment_id)
        secret = None if payment.method in WALLET_METHODS else intent.client_secret
        return PaymentResult(Outcome.REQUIRES_ACTION, payment, client_secret=secret)
    if intent.status in ("requires_payment_method", "canceled"):
        code = intent.error_code or ("canceled" if intent.status == "canceled" else "failed")
        message = intent.error_message or "The payment did not go through."
        await settle_failed(payment_id, code=code, message=message)
        return PaymentResult(Outcome.FAILED, await Payment.get(id=payment_id), code=code)
    return PaymentResult(Outcome.PENDING, await Payment.get(id=payment_id))


WALLET_METHODS = (PayMethod.WECHAT_PAY, PayMethod.ALIPAY)


# WeixinJSBridge's names of the JSAPI parameters, and ours in the API's answer.
JSAPI_FIELDS = {
    "appId": "app_id",
    "timeStamp": "time_stamp",
    "nonceStr": "nonce_str",
    "package": "package",
    "signType": "sign_type",
    "paySign": "pay_sign",
}


def jsapi_parameters(payment: Payment) -> dict[str, str]:
    """A jsapi payment's signed parameters, in the API's names (kept as JSON in action_url)."""
    try:
        kept = json.loads(payment.action_url or "{}")
    except ValueError:
        kept = {}
    return {ours: str(kept.get(theirs, "")) for theirs, ours in JSAPI_FIELDS.items()}


def _action_text(action: WalletAction) -> str | None:
    """What a payment keeps of its wallet action to show again (Payment.action_url)."""
    if action.jsapi is not None:
        return json.dumps({key: action.jsapi.get(key, "") for key in JSAPI_FIELDS})
    return action.qr_data or action.url


async def _wait_for_buyer(payment_id: int, intent: Intent) -> None:
    """The payment waits for its buyer: 3-D Secure in the browser (the client secret), or a
    wallet's QR code or redirect (kept on the payment to show again until it settles)."""
    action: WalletAction | None = intent.wallet_action
    if action is None:
        await Payment.filter(id=payment_id, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.REQUIRES_ACTION, client_secret=intent.client_secret
        )
        return
    help_url = action.hosted_instructions_url
    if action.type == "wechat_pay_h5":
        help_url = secrets.token_urlsafe(18)  # the key of our page sending the buyer on
    await Payment.filter(id=payment_id, status__in=list(OPEN_STATUSES)).update(
        status=PaymentStatus.REQUIRES_ACTION,
        action_url=_action_text(action),
        action_help_url=help_url,
    )


async def settle_from_provider(
    provider: PaymentProvider, payment_id: int, *, now: datetime, abandon: bool = False
) -> PaymentResult:
    """Ask the provider about an open payment and record its answer.

    With `abandon`, an intent that was never confirmed, or is still waiting for 3-D Secure, is
    canceled and the payment fails. Raises ProviderUnavailable when the provider cannot answer.
    """
    payment = await Payment.get(id=payment_id)
    if payment.status not in OPEN_STATUSES:
        paid = payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
        return PaymentResult(Outcome.PAID if paid else Outcome.FAILED, payment)
    if payment.provider_intent_id is None:
        # The intent was never created (or its creation never returned): nothing confirmed.
        await settle_failed(payment.id, code="abandoned", message="The payment never started.")
        return PaymentResult(Outcome.FAILED, await Payment.get(id=payment.id))
    provider = of_payment(provider, payment.provider)
    try:
        intent = await provider.retrieve_intent(payment.provider_intent_id)
    except ProviderError as exc:
        if not exc.missing:
            # Our key or request refused (rotated, misconfigured): that says nothing of the
            # payment, which stays open until the provider can be asked.
            raise ProviderUnavailable(exc.message) from exc
        # The provider does not know the intent: nothing was ever charged.
        await settle_failed(payment.id, code=exc.code, message=exc.message)
        return PaymentResult(Outcome.FAILED, await Payment.get(id=payment.id), code=exc.code)
    unconfirmed = intent.status in ("requires_confirmation", "requires_payment_method")
    if abandon and (unconfirmed or intent.status == "requires_action"):
        try:
            intent = await provider.cancel_intent(intent.id)
        except ProviderError:
            try:
                intent = await provider.retrieve_intent(intent.id)  # it moved on meanwhile
            except ProviderError as exc:
                # A refusal of our request (a clock the provider disputes, a permission
                # lost) says nothing of the payment: it stays open until it can be asked.
                raise ProviderUnavailable(exc.message) from exc
        if intent.status == "canceled":
            await settle_failed(payment.id, code="canceled", message="The payment was canceled.")
            return PaymentResult(Outcome.FAILED, await Payment.get(id=payment.id))
    return await apply_intent(provider, payment.id, intent, now=now)


async def settle_late_success(provider: PaymentProvider, payment_id: int, *, now: datetime) -> bool:
    """Read a failed payment back from the provider that took it: True when the provider says
    it succeeded after all, then settled like any late success (delivered if its thing is
    still to be had, else refunded in full). An Alipay page given up on (its trade not made
    yet, so nothing could be closed) can still be paid until its time_expire: a payment failed
    before then is read back once after it (payments.reconcile), and at once when the buyer's
    browser comes back from Alipay naming it. Raises ProviderUnavailable when the provider
    cannot say."""
    payment = await Payment.get_or_none(id=payment_id)
    if (
        payment is None
        or payment.status != PaymentStatus.FAILED
        or payment.provider_intent_id is None
    ):
        return False
    try:
        intent = await of_payment(provider, payment.provider).retrieve_intent(
            payment.provider_intent_id
        )
    except ProviderError as exc:
        if exc.missing:
            return False  # the provider has no such payment: nothing was ever charged
        raise ProviderUnavailable(exc.message) from exc
    if intent.status != "succeeded" or intent.id != payment.provider_intent_id:
        return False
    log.warning("payment %s: paid after it was given up on: settling it late", payment.id)
    await settle_succeeded(of_payment(provider, payment.provider), payment.id, intent, now=now)
    return True


async def close_before_release(
    provider: PaymentProvider, *, purpose: str, subject_id: str, now: datetime
) -> bool:
    """Before a held thing is released (its hold expired, or its buyer cancels): a payment
    under way for it is canceled at the provider first, so that a release and a charge cannot
    both happen unseen. True when the thing turns out paid (then it must not be released).

    Raises PaymentUnavailable when the provider cannot say (release later, or tell the buyer
    to try again), PaymentInProgress while the provider is still processing it.
    """
    payment = await Payment.get_or_none(active_key=f"{purpose}:{subject_id}")
    if payment is None:
        return False
    if payment.status in OPEN_STATUSES:
        try:
            result = await settle_from_provider(provider, payment.id, now=now, abandon=True)
        except ProviderUnavailable as exc:
            raise PaymentUnavailable() from exc
        if result.outcome in (Outcome.PENDING, Outcome.REQUIRES_ACTION):
            raise PaymentInProgress()
        payment = result.payment
    # A payment that holds the key and succeeded delivered the thing (or will: WAITING); a
    # disputed one did too, and stays so until an admin decides.
    return (
        payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.DISPUTED)
        and payment.settlement != Settlement.REFUND_DUE
    )
