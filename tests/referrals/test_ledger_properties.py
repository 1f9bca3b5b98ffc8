"""The ledger over random sequences of referred payments, partial and full refunds (some
reported twice), payout requests and decisions, and time passing: withdrawable is never
negative (before it is shown, only a refund of a reward already paid out takes it below
zero), a payout is granted exactly when it is within what is withdrawable, and each
payment's net reward is its rule's reward scaled to the part not refunded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from tortoise.functions import Sum

from referrals import ledger
from referrals.errors import PayoutTooLarge
from referrals.ledger import Balance
from referrals.models import LedgerEntry
from tests.factories import make_user_without_email
from tests.referrals.purchases import (
    NOW,
    REFUND_DAYS,
    make_product,
    make_rule,
    referred_purchase,
)


@dataclass(frozen=True)
class Pay:
    amount_fen: int
    rule: tuple[str, int]  # ("percent", 1..100) or ("amount", fen)
    members_only: bool
    member: bool


@dataclass(frozen=True)
class Refund:
    which: int  # of the payments so far, modulo their number
    percent_of_the_rest: int  # 100: the rest in full
    again: bool  # report the refunded total as it is once more instead


@dataclass(frozen=True)
class Wait:
    hours: int


@dataclass(frozen=True)
class AskForPayout:
    percent_of_withdrawable: int  # above 100: more than may be withdrawn


@dataclass(frozen=True)
class Decide:
    which: int  # of the requested payouts, modulo their number
    approve: bool


RULES = st.one_of(
    st.tuples(st.just("percent"), st.integers(1, 100)),
    st.tuples(st.just("amount"), st.integers(1, 20_000)),
)
STEPS = st.lists(
    st.one_of(
        st.builds(Pay, st.integers(1, 50_000), RULES, st.booleans(), st.booleans()),
        st.builds(Refund, st.integers(0, 99), st.integers(1, 100), st.booleans()),
        st.builds(Wait, st.sampled_from([1, 24, 24 * 7, 24 * 8])),
        st.builds(AskForPayout, st.integers(1, 150)),
        st.builds(Decide, st.integers(0, 99), st.booleans()),
    ),
    min_size=10,
    max_size=30,
)


@dataclass
class Paid:
    """What the test expects of one referred payment."""

    payment_id: int
    amount_fen: int
    reward_fen: int  # the rule applied to the payment, worked out here
    available_at: datetime
    refunded_fen: int = 0

    def net_fen(self) -> int:
        return self.reward_fen * (self.amount_fen - self.refunded_fen) // self.amount_fen


def reward(step: Pay) -> int:
    kind, value = step.rule
    if step.members_only and not step.member:
        return 0
    return step.amount_fen * value // 100 if kind == "percent" else min(value, step.amount_fen)


@settings(max_examples=50, deadline=None, database=None)
@given(STEPS)
async def test_withdrawable_and_net_rewards_hold_over_any_history(steps: list[object]) -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    admin = await make_user_without_email()
    product = await make_product()
    clock = NOW
    paid: list[Paid] = []
    payouts: dict[int, tuple[int, str]] = {}  # id: (amount, "requested" | "approved" | ...)
    # Rewards a refund took back after they became withdrawable: the only way what is
    # withdrawable, before it is shown, can fall below zero (a reward already paid out).
    taken_back = 0

    for step in steps:
        if isinstance(step, Pay):
            kind, value = step.rule
            rule = await make_rule(
                kind, value, members_only=step.members_only, product=product, admin=admin
            )
            payment, _ = await referred_purchase(
                referrer, buyer, rule, step.amount_fen, member=step.member, at=clock
            )
            paid.append(
                Paid(payment.id, step.amount_fen, reward(step), clock + timedelta(days=REFUND_DAYS))
            )
        elif isinstance(step, Refund) and paid:
            one = paid[step.which % len(paid)]
            rest, net_before = one.amount_fen - one.refunded_fen, one.net_fen()
            if not step.again:
                one.refunded_fen += -(-rest * step.percent_of_the_rest // 100)  # rounded up
            written = await ledger.reverse(
                payment_id=one.payment_id,
                refunded_fen=one.refunded_fen,
                amount_fen=one.amount_fen,
                now=clock,
            )
            if step.again:
                assert written is None
            if one.available_at <= clock:
                taken_back += net_before - one.net_fen()
        elif isinstance(step, Wait):
            clock += timedelta(hours=step.hours)
        elif isinstance(step, AskForPayout):
            withdrawable = (await ledger.balance(referrer.id, now=clock)).withdrawable_fen
            asked = max(1, withdrawable * step.percent_of_withdrawable // 100)
            try:
                payout = await ledger.request_payout(referrer.id, asked, clock)
            except PayoutTooLarge:
                assert asked > withdrawable
            else:
                assert asked <= withdrawable
                payouts[payout.id] = (asked, "requested")
        elif isinstance(step, Decide):
            waiting = sorted(i for i, (_, status) in payouts.items() if status == "requested")
            if waiting:
                chosen = waiting[step.which % len(waiting)]
                if step.approve:
                    await ledger.approve_payout(chosen, actor=admin, now=clock)
                else:
                    await ledger.reject_payout(chosen, actor=admin, now=clock)
                payouts[chosen] = (payouts[chosen][0], "approved" if step.approve else "rejected")

        nets = dict(
            await LedgerEntry.filter(referrer_id=referrer.id, payment_id__not_isnull=True)
            .annotate(total=Sum("amount_fen"))
            .group_by("payment_id")
            .values_list("payment_id", "total")
        )
        for one in paid:
            assert nets.get(one.payment_id, 0) == one.net_fen(), one
        matured = sum(one.net_fen() for one in paid if one.available_at <= clock)
        pending = sum(one.net_fen() for one in paid if one.available_at > clock)
        approved = sum(amount for amount, status in payouts.values() if status == "approved")
        held = sum(amount for amount, status in payouts.values() if status == "requested")
        assert matured - approved - held >= -taken_back
        shown = await ledger.balance(referrer.id, now=clock)
        assert shown.withdrawable_fen >= 0
        assert shown == Balance(
            balance_fen=matured + pending - approved - held,
            withdrawable_fen=max(0, matured - approved - held),
            pending_fen=pending,
        )
