"""The referral reward ledger: what a referrer earns on the purchases they referred, what a
refund takes back, what they may withdraw, and the payouts they ask for.

Why this cannot be a pyramid selling scheme. 《禁止传销条例》 art. 7 names three forms: pay
for bringing in people (counted by the people brought, or by what they pay to join); an entry
fee, or a purchase, made the condition of joining or of earning; and pay on the sales of a
chain of people beneath one. Here:
- Only a paid purchase earns. The one function that writes a reward is `credit`, called when
  a referred payment for a product or an enrollment window (the membership) succeeded, and
  the reward is a share of that payment (`reward_of`), reversed in proportion to a refund. A
  visit, a sign-up or a new referrer writes nothing: no function here takes one.
- Nobody pays to become a referrer. Every person's share links work; nothing here asks
  whether the referrer bought or paid anything (a rule's `members_only` asks about the
  buyer).
- Exactly one level. `credit` takes the one referrer of this buyer (attribution's answer)
  and writes for that person only; no function here takes a chain, reads who referred the
  referrer, or writes an entry for anyone else.

Money moves as append-only entries (referrals.models.LedgerEntry): nothing here updates or
deletes one. A refund after the credit became withdrawable still reverses it; if the reward
was already paid out, the balance goes negative and the next credits make it up (nothing is
asked back outside the app).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from errors import ValidationError
from payments.models import PaymentStatus, Refund
from referrals.errors import OwnPayout, PayoutDecided, PayoutNotFound, PayoutTooLarge
from referrals.models import (
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutStatus,
    RewardKind,
    RewardRule,
)


def reward_of(rule: RewardRule, amount_fen: int, *, member: bool) -> int:
    """What the referrer earns on a payment of `amount_fen` under `rule`: its percentage,
    rounded down to whole fen, or its fixed amount, never more than what was paid; nothing
    when the rule is for members only and the buyer is not one."""
    if amount_fen <= 0 or (rule.members_only and not member):
        return 0
    if rule.kind == RewardKind.PERCENT:
        return amount_fen * rule.value // 100
    return min(rule.value, amount_fen)


def net_reward(reward_fen: int, *, amount_fen: int, refunded_fen: int) -> int:
    """What is left of a payment's reward once `refunded_fen` of its `amount_fen` came back:
    the reward in proportion to the part not refunded, rounded down to whole fen. Scaling
    the reward (rather than applying the rule to the remainder) keeps a fixed-amount reward
    proportional too, and it never grows as more is refunded."""
    return reward_fen * (amount_fen - refunded_fen) // amount_fen


def _credit_key(payment_id: int) -> str:
    return f"credit:{payment_id}"


async def _append(**values: Any) -> LedgerEntry | None:
    """The entry written, or None when one with its once_key already is (asked again).

    Invariant "each event is written once": the UNIQUE once_key. The insert runs in its own
    transaction, a savepoint within the caller's (a payment's settlement), so the refused
    duplicate does not abort the caller's transaction on PostgreSQL."""
    try:
        async with in_transaction():
            return await LedgerEntry.create(**values)
    except IntegrityError:
        if await LedgerEntry.exists(once_key=values["once_key"]):
            return None
        raise  # not a duplicate: a payment or a person that does not exist


async def credit(
    *,
    payment_id: int,
    referrer_id: int,
    buyer_id: int,
    rule: RewardRule,
    amount_fen: int,
    buyer_is_member: bool,
    now: datetime,
    refund_days: int,
) -> LedgerEntry | None:
    """Credit the referrer of a payment of one thing under one rule (credit_lines with one
    line of the whole amount)."""
    return await credit_lines(
        payment_id=payment_id,
        referrer_id=referrer_id,
        buyer_id=buyer_id,
        lines=[(rule, amount_fen)],
        amount_fen=amount_fen,
        buyer_is_member=buyer_is_member,
        now=now,
        refund_days=refund_days,
    )


async def credit_lines(
    *,
    payment_id: int,
    referrer_id: int,
    buyer_id: int,
    lines: Sequence[tuple[RewardRule, int]],
    amount_fen: int,
    buyer_is_member: bool,
    now: datetime,
    refund_days: int,
) -> LedgerEntry | None:
    """Credit the referrer of a payment of `amount_fen` that succeeded at `now`: each line (a
    thing's rule, what was paid for the thing) earns reward_of(rule, line), and the sum, never
    more than the payment, becomes withdrawable `refund_days` later (the period in which the
    buyer may still ask for a refund). Written once per payment however often it is asked;
    nothing is written (None) for a self-referral (the referrer is the buyer), a reward of
    nothing, or a payment credited before."""
    if refund_days < 0:
        raise ValueError("refund_days must not be negative")
    if referrer_id == buyer_id:
        return None  # self-referral: a discount on one's own purchase is not a reward
    earned = [(rule, line, reward_of(rule, line, member=buyer_is_member)) for rule, line in lines]
    earned = [(rule, line, reward) for rule, line, reward in earned if reward > 0]
    reward = min(sum(reward for _, _, reward in earned), amount_fen)
    if reward <= 0:
        return None
    shares = ", ".join(
        f"{rule.value}%" if rule.kind == RewardKind.PERCENT else f"{rule.value} fen"
        for rule, _, _ in earned
    )
    return await _append(
        referrer_id=referrer_id,
        payment_id=payment_id,
        rule_id=earned[0][0].id,
        kind=EntryKind.CREDIT,
        amount_fen=reward,
        available_at=now + timedelta(days=refund_days),
        created_at=now,
        once_key=_credit_key(payment_id),
        note=f"{shares} of {amount_fen} fen paid"[:200],
    )


async def reverse(
    *, payment_id: int, refunded_fen: int, amount_fen: int, now: datetime
) -> LedgerEntry | None:
    """The payment's refunded total is now `refunded_fen` of its `amount_fen`: bring its net
    reward (credit plus reversals) down to net_reward(credit, ...) with one reversal. Asked
    again with the same total, or late with a smaller one than already applied, it writes
    nothing (None); likewise for a payment that earned no reward. The reversal comes off
    what is withdrawable at once when the credit already is (even if paid out: the balance
    goes negative), else off what is pending."""
    if not 0 <= refunded_fen <= amount_fen or amount_fen <= 0:
        raise ValueError(f"refunded {refunded_fen} of {amount_fen} fen is not a refund")
    async with in_transaction():
        # The payment's credit row, locked (never changed): two refunds of one payment
        # reported at once reverse one after the other, each from the other's result.
        credited = (
            await LedgerEntry.filter(once_key=_credit_key(payment_id)).select_for_update().first()
        )
        if credited is None:
            return None
        net = await _sum(LedgerEntry.filter(payment_id=payment_id))
        target = net_reward(credited.amount_fen, amount_fen=amount_fen, refunded_fen=refunded_fen)
        if target >= net:
            return None
        return await _append(
            referrer_id=credited.referrer_id,
            payment_id=payment_id,
            rule_id=credited.rule_id,
            kind=EntryKind.REVERSAL,
            amount_fen=target - net,
            available_at=credited.available_at,
            created_at=now,
            once_key=f"reversal:{payment_id}:{refunded_fen}",
            note=f"{refunded_fen} of {amount_fen} fen refunded",
        )


async def reverse_to_refunds(
    *, payment_id: int, amount_fen: int, now: datetime
) -> LedgerEntry | None:
    """reverse() to the refunds recorded for the payment, counted once its credit is locked:
    two partial refunds committed at the same moment each wait for the other's reversal and
    then count both refunds (counted before the lock, each would see only its own, and the
    second would take back nothing). No credit, nothing to do."""
    async with in_transaction():
        credited = (
            await LedgerEntry.filter(once_key=_credit_key(payment_id)).select_for_update().first()
        )
        if credited is None or amount_fen <= 0:
            return None
        refunded = min(await _sum(Refund.filter(payment_id=payment_id)), amount_fen)
        if refunded <= 0:
            return None
        return await reverse(
            payment_id=payment_id, refunded_fen=refunded, amount_fen=amount_fen, now=now
        )


@dataclass(frozen=True)
class Balance:
    """A referrer's money. `balance_fen` = `pending_fen` + what is withdrawable before it is
    shown (negative when a refund took back a reward already paid out); requested payouts
    are held out of it until decided."""

    balance_fen: int  # everything earned, less reversals, payouts and requested payouts
    withdrawable_fen: int  # past the refund period, less what is paid or requested; >= 0
    pending_fen: int  # still within the refund period


async def _sum(rows: QuerySet[Any]) -> int:
    """The sum of the rows' amount_fen (0 for none)."""
    totals = await rows.annotate(total=Sum("amount_fen")).values("total")
    return int(totals[0]["total"] or 0) if totals else 0


async def balance(referrer_id: int, *, now: datetime) -> Balance:
    """The referrer's balance at `now`. Withdrawable is the entries past their available_at
    (credits after the refund period, their reversals, payouts) less the requested payouts
    and the rewards of disputed payments, never shown below zero."""
    total = await _sum(LedgerEntry.filter(referrer_id=referrer_id))
    available = await _sum(LedgerEntry.filter(referrer_id=referrer_id, available_at__lte=now))
    # A payment the provider no longer confirms (payments.reconcile: DISPUTED, for an admin
    # to look at) keeps its reward pending until it is confirmed or refunded.
    available -= await _sum(
        LedgerEntry.filter(
            referrer_id=referrer_id, available_at__lte=now, payment__status=PaymentStatus.DISPUTED
        )
    )
    held = await _sum(Payout.filter(referrer_id=referrer_id, status=PayoutStatus.REQUESTED))
    return Balance(
        balance_fen=total - held,
        withdrawable_fen=max(0, available - held),
        pending_fen=total - available,
    )


async def _lock_referrer(referrer_id: int) -> None:
    """Take the referrer's row lock until the transaction ends. Every payout request,
    approval and rejection takes it first, so they see each other's effect one at a time.
    FOR NO KEY UPDATE: other inserts naming the person (a payment, an order) are not held
    up. On SQLite, Tortoise runs one transaction at a time and the lock is not needed."""
    await User.filter(id=referrer_id).select_for_update(no_key=True).only("id").first()


async def request_payout(referrer_id: int, amount_fen: int, now: datetime) -> Payout:
    """Ask for `amount_fen` of what is withdrawable to be paid out (held until an admin
    decides). Raises ValidationError (not a whole number of fen above 0), PayoutTooLarge."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen < 1:
        raise ValidationError("amount_fen", "must be at least 1")
    async with in_transaction():
        # Invariant "a payout never exceeds what is withdrawable when it is asked for": the
        # check and the hold are one transaction under the referrer's lock, so of two
        # requests at once the second sees the first's hold.
        await _lock_referrer(referrer_id)
        shown = await balance(referrer_id, now=now)
        if amount_fen > shown.withdrawable_fen:
            raise PayoutTooLarge(shown.withdrawable_fen)
        return await Payout.create(referrer_id=referrer_id, amount_fen=amount_fen, requested_at=now)


async def _decide(payout_id: int, status: PayoutStatus, actor: User, now: datetime) -> Payout:
    payout = await Payout.get_or_none(id=payout_id)
    if payout is None:
        raise PayoutNotFound()
    if payout.referrer_id == actor.id:
        raise OwnPayout()  # another member of staff decides a staff member's own payout
    await _lock_referrer(payout.referrer_id)
    # Decided once: of two admins deciding at the same moment, one changes the row.
    if not await Payout.filter(id=payout_id, status=PayoutStatus.REQUESTED).update(
        status=status, decided_at=now, decided_by_id=actor.id
    ):
        raise PayoutDecided()
    payout.status, payout.decided_at, payout.decided_by_id = status, now, actor.id
    await audit.record(
        actor=actor,
        action=f"referral_payout.{'approve' if status == PayoutStatus.APPROVED else 'reject'}",
        object_type="referral_payout",
        object_id=payout.id,
        after={"referrer_id": payout.referrer_id, "amount_fen": payout.amount_fen},
        now=now,
    )
    return payout


async def approve_payout(payout_id: int, *, actor: User, now: datetime) -> Payout:
    """Record that a requested payout was paid (outside the app): its ledger entry is
    written with the approval (an audit entry, "referral_payout.approve"). Raises
    PayoutNotFound, PayoutDecided."""
    async with in_transaction():
        payout = await _decide(payout_id, PayoutStatus.APPROVED, actor, now)
        await _append(
            referrer_id=payout.referrer_id,
            kind=EntryKind.PAYOUT,
            amount_fen=-payout.amount_fen,
            available_at=now,
            created_at=now,
            once_key=f"payout:{payout.id}",
            note=f"payout {payout.id}, approved by {actor.id}",
        )
    return payout


async def reject_payout(payout_id: int, *, actor: User, now: datetime) -> Payout:
    """Refuse a requested payout: its amount is withdrawable again (an audit entry,
    "referral_payout.reject"). Raises PayoutNotFound, PayoutDecided."""
    async with in_transaction():
        return await _decide(payout_id, PayoutStatus.REJECTED, actor, now)
