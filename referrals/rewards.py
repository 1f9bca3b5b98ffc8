"""Referred purchases earn their referrer's reward: the store's and membership's payment
handlers, wrapped (composition.py calls `register`).

The order of events, and what each does here:
- **Succeeded** (the purpose delivered: FULFILLED): the purchase is recorded as referred by the
  buyer's referrer at that moment (referrals.attribution.referrer_now), once (Referral is
  UNIQUE per thing), and the referrer credited once (the ledger's once_key), in the same
  transaction as the success. Asked again (a repeated notification, reconciliation), nothing
  more is written.
- **Refused** (a late payment for a thing gone: refunded in full automatically), **failed**,
  **cancelled**, **expired**: never fulfilled, so never recorded nor credited.
- **Refunded** by staff, in part or in full, once or more, before or after the reward became
  withdrawable: the reward is brought down in proportion to the refunded total
  (referrals.ledger.reverse), counted from the refunds recorded (never from an amount still
  being asked of the provider).
- **Self-referral**: a buyer whose own link was their last touch earns nothing (attribution
  refuses the touch; the ledger refuses the credit too).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from accounts.models import User
from membership.grants import is_member
from membership.models import Enrollment
from membership.services import PAYMENT_PURPOSE as MEMBERSHIP_PURPOSE
from payments.models import Payment
from payments.purposes import (
    FulfilHook,
    Fulfilment,
    Purposes,
    RefundHook,
)
from referrals import attribution, ledger, reward_rules
from referrals.models import ReferredKind, RewardRule, RuleAppliesTo
from store.models import OrderItem
from store.orders import PAYMENT_PURPOSE as ORDER_PURPOSE

log = logging.getLogger(__name__)
KINDS = {ORDER_PURPOSE: ReferredKind.ORDER, MEMBERSHIP_PURPOSE: ReferredKind.ENROLLMENT}


def register(purposes: Purposes, *, refund_days: int, referral_days: int) -> None:
    """Wrap the order's and membership's handlers (registered before) in `purposes`."""
    for purpose, kind in KINDS.items():
        handlers = purposes.handlers_for(purpose)
        purposes.register(
            purpose,
            replace(
                handlers,
                fulfil=_fulfil(handlers.fulfil, kind, refund_days, referral_days),
                on_refunded=_on_refunded(handlers.on_refunded),
            ),
        )


def _fulfil(
    delivered: FulfilHook, kind: ReferredKind, refund_days: int, referral_days: int
) -> FulfilHook:
    async def fulfil(payment: Payment, now: datetime) -> Fulfilment:
        buyer = await User.get(id=payment.user_id)  # type: ignore[attr-defined]
        # "Members only" asks whether the buyer was a member when paying: before this payment
        # (a membership's own payment makes one).
        was_member = is_member(buyer, at=payment.created_at)
        answer = await delivered(payment, now)
        if answer == Fulfilment.FULFILLED:
            try:
                async with in_transaction():  # a savepoint: a failure here undoes only this
                    await paid(payment, kind, was_member, now, refund_days, referral_days)
            except Exception:
                # The thing is delivered whatever happens to its referral: a paid order is
                # never held back by a reward. Logged for an admin (the credit can be
                # written again by asking paid() for the payment).
                log.exception("payment %s: its referral could not be recorded", payment.id)
        return answer

    return fulfil


async def paid(
    payment: Payment,
    kind: ReferredKind,
    was_member: bool,
    now: datetime,
    refund_days: int,
    referral_days: int,
) -> None:
    """Record a fulfilled payment's referral and credit its referrer (both at most once)."""
    subject_id = int(payment.subject_id)
    buyer_id = payment.user_id  # type: ignore[attr-defined]
    # The referrer when the buyer started paying: a visit after that (a late success read
    # back a day later, a reconciled payment) referred nothing of this purchase.
    touch = await attribution.referrer_now(buyer_id, at=payment.created_at, days=referral_days)
    if touch is None or touch.referrer_id == buyer_id or touch.touched_at > payment.created_at:
        return
    referral = await attribution.record(
        kind,
        subject_id,
        referred_id=buyer_id,
        link_id=touch.link_id,
        referrer_id=touch.referrer_id,
        source=touch.source,
        at=now,
        payment_id=payment.id,
        amount_fen=payment.amount_fen,
    )
    if referral.payment_id != payment.id:
        return  # the thing was paid before, by another payment: that one was credited
    lines = await _lines(kind, subject_id)
    if not lines:
        return
    await ledger.credit_lines(
        payment_id=payment.id,
        referrer_id=referral.referrer_id,
        buyer_id=buyer_id,
        lines=lines,
        amount_fen=payment.amount_fen,
        buyer_is_member=was_member,
        now=now,
        refund_days=refund_days,
    )
    # Refunded before its success was recorded (staff may refund a payment reconciliation
    # has not settled yet): the credit comes down at once.
    await refunded(payment, now=now)


async def _lines(kind: ReferredKind, subject_id: int) -> list[tuple[RewardRule, int]]:
    """What was bought, each with the rule rewarding it now and what was paid for it."""
    if kind == ReferredKind.ENROLLMENT:
        enrollment = await Enrollment.get_or_none(id=subject_id)
        if enrollment is None:
            return []
        rule = await reward_rules.active_rule(RuleAppliesTo.WINDOW, enrollment.window_id)  # type: ignore[attr-defined]
        return [(rule, enrollment.amount_fen)] if rule is not None else []
    lines = []
    for item in await OrderItem.filter(order_id=subject_id):
        rule = await reward_rules.active_rule(RuleAppliesTo.PRODUCT, item.product_id)  # type: ignore[attr-defined]
        if rule is not None:
            lines.append((rule, item.unit_price_fen * item.quantity))
    return lines


def _on_refunded(told: RefundHook | None) -> RefundHook:
    async def on_refunded(payment: Payment, amount_fen: int) -> None:
        if told is not None:
            await told(payment, amount_fen)
        await refunded(payment, now=datetime.now(UTC))

    return on_refunded


async def refunded(payment: Payment, *, now: datetime) -> None:
    """Bring the payment's reward, if any, down to what its recorded refunds leave."""
    await ledger.reverse_to_refunds(payment_id=payment.id, amount_fen=payment.amount_fen, now=now)
