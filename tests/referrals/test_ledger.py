"""The referral ledger: a referred purchase credits once, refunds reverse in proportion (also
after the reward became withdrawable), payouts never exceed what is withdrawable, entries are
never changed, and the tax year's export sums each referrer's year."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AuditEntry
from errors import ValidationError
from referrals import ledger, reward_rules
from referrals.errors import PayoutDecided, PayoutTooLarge
from referrals.ledger import Balance
from referrals.models import (
    EntryKind,
    LedgerEntry,
    LedgerIsAppendOnly,
    Payout,
    PayoutStatus,
    RewardRule,
    RuleAppliesTo,
)
from referrals.tax_export import EXPORT_COLUMNS, TOTAL, export_rows
from tests.factories import make_user_without_email
from tests.referrals.purchases import (
    AFTER_REFUND_PERIOD,
    NOW,
    REFUND_DAYS,
    make_product,
    make_rule,
    net_of,
    referred_purchase,
)


async def test_a_paid_purchase_credits_the_referrer_once_however_often_it_is_asked() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    rule = await make_rule("percent", 10)
    payment, entry = await referred_purchase(referrer, buyer, rule, 19_900)
    assert entry is not None
    assert (entry.kind, entry.amount_fen, entry.rule_id) == (EntryKind.CREDIT, 1_990, rule.id)
    assert entry.available_at == NOW + timedelta(days=REFUND_DAYS)
    again = await ledger.credit(
        payment_id=payment.id,
        referrer_id=referrer.id,
        buyer_id=buyer.id,
        rule=rule,
        amount_fen=19_900,
        buyer_is_member=False,
        now=NOW + timedelta(seconds=5),
        refund_days=REFUND_DAYS,
    )
    assert again is None
    assert await LedgerEntry.filter(payment_id=payment.id).count() == 1
    assert await ledger.balance(referrer.id, now=NOW) == Balance(1_990, 0, 1_990)
    before_end = AFTER_REFUND_PERIOD - timedelta(seconds=1)
    assert await ledger.balance(referrer.id, now=before_end) == Balance(1_990, 0, 1_990)
    assert await ledger.balance(referrer.id, now=AFTER_REFUND_PERIOD) == Balance(1_990, 1_990, 0)


async def test_a_partial_then_a_full_refund_reverse_the_reward_in_proportion() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    payment, _ = await referred_purchase(referrer, buyer, await make_rule("percent", 10), 10_000)
    later = NOW + timedelta(days=1)
    first = await ledger.reverse(
        payment_id=payment.id, refunded_fen=2_500, amount_fen=10_000, now=later
    )
    assert first is not None and first.amount_fen == -250
    assert first.available_at == NOW + timedelta(days=REFUND_DAYS)  # off what is pending
    assert await ledger.balance(referrer.id, now=later) == Balance(750, 0, 750)
    # The same refunded total again, and a late report of a smaller one: nothing more.
    for refunded in (2_500, 1_000):
        assert not await ledger.reverse(
            payment_id=payment.id, refunded_fen=refunded, amount_fen=10_000, now=later
        )
    assert await net_of(payment) == 750
    full = await ledger.reverse(
        payment_id=payment.id, refunded_fen=10_000, amount_fen=10_000, now=later
    )
    assert full is not None and full.amount_fen == -750
    assert await net_of(payment) == 0
    assert await ledger.balance(referrer.id, now=AFTER_REFUND_PERIOD) == Balance(0, 0, 0)


async def test_a_refund_after_the_reward_became_withdrawable_still_reverses_it() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    payment, _ = await referred_purchase(referrer, buyer, await make_rule("percent", 10), 10_000)
    late = AFTER_REFUND_PERIOD + timedelta(days=20)
    assert (await ledger.balance(referrer.id, now=late)).withdrawable_fen == 1_000
    await ledger.reverse(payment_id=payment.id, refunded_fen=5_000, amount_fen=10_000, now=late)
    assert await ledger.balance(referrer.id, now=late) == Balance(500, 500, 0)
    await ledger.reverse(payment_id=payment.id, refunded_fen=10_000, amount_fen=10_000, now=late)
    assert await ledger.balance(referrer.id, now=late) == Balance(0, 0, 0)


async def test_a_refund_of_a_reward_paid_out_leaves_a_debt_the_next_credits_make_up() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    admin = await make_user_without_email()
    rule = await make_rule("percent", 10)
    payment, _ = await referred_purchase(referrer, buyer, rule, 10_000)
    payout = await ledger.request_payout(referrer.id, 1_000, AFTER_REFUND_PERIOD)
    await ledger.approve_payout(payout.id, actor=admin, now=AFTER_REFUND_PERIOD)
    refunded_at = AFTER_REFUND_PERIOD + timedelta(days=1)
    await ledger.reverse(
        payment_id=payment.id, refunded_fen=10_000, amount_fen=10_000, now=refunded_at
    )
    assert await ledger.balance(referrer.id, now=refunded_at) == Balance(-1_000, 0, 0)
    await referred_purchase(referrer, buyer, rule, 15_000, at=refunded_at)
    matured = refunded_at + timedelta(days=REFUND_DAYS)
    assert await ledger.balance(referrer.id, now=matured) == Balance(500, 500, 0)
    with pytest.raises(PayoutTooLarge):
        await ledger.request_payout(referrer.id, 501, matured)


async def test_self_referral_writes_nothing() -> None:
    buyer = await make_user_without_email()
    payment, entry = await referred_purchase(buyer, buyer, await make_rule("percent", 50), 10_000)
    assert entry is None
    assert not await LedgerEntry.filter(payment_id=payment.id).exists()
    assert await ledger.balance(buyer.id, now=AFTER_REFUND_PERIOD) == Balance(0, 0, 0)


async def test_a_members_only_reward_is_earned_only_when_the_buyer_is_a_member() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    rule = await make_rule("amount", 800, members_only=True)
    _, to_a_guest = await referred_purchase(referrer, buyer, rule, 5_000, member=False)
    _, to_a_member = await referred_purchase(referrer, buyer, rule, 5_000, member=True)
    assert to_a_guest is None
    assert to_a_member is not None and to_a_member.amount_fen == 800


async def test_a_percentage_rounds_down_to_whole_fen_and_an_amount_never_exceeds_the_payment() -> (
    None
):
    percent = RewardRule(kind="percent", value=15, members_only=False)
    amount = RewardRule(kind="amount", value=5_000, members_only=False)
    assert ledger.reward_of(percent, 999, member=False) == 149  # 149.85
    assert ledger.reward_of(percent, 6, member=False) == 0  # 0.9 fen: nothing
    assert ledger.reward_of(amount, 3_000, member=True) == 3_000
    assert ledger.reward_of(amount, 30_000, member=True) == 5_000
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    _, nothing = await referred_purchase(referrer, buyer, await make_rule("percent", 15), 6)
    assert nothing is None  # a reward of nothing is not written


async def test_a_fixed_amount_is_reversed_in_proportion_too() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    payment, _ = await referred_purchase(referrer, buyer, await make_rule("amount", 500), 1_000)
    await ledger.reverse(payment_id=payment.id, refunded_fen=333, amount_fen=1_000, now=NOW)
    assert await net_of(payment) == 500 * 667 // 1_000  # 333.5: rounded down


async def test_setting_a_new_rule_retires_the_old_one_and_credits_keep_theirs() -> None:
    admin = await make_user_without_email()
    product = await make_product()
    old = await make_rule("percent", 10, product=product, admin=admin)
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    _, credited = await referred_purchase(referrer, buyer, old, 10_000)
    new = await make_rule("amount", 300, product=product, admin=admin)
    await old.refresh_from_db()
    assert not old.active and old.retired_at == NOW and new.active
    assert await reward_rules.active_rule(RuleAppliesTo.PRODUCT, product.id) == new
    assert credited is not None and credited.rule_id == old.id
    assert await AuditEntry.filter(action="reward_rule.set").count() == 2
    await reward_rules.retire_rule(new.id, actor=admin, now=NOW)
    assert await reward_rules.active_rule(RuleAppliesTo.PRODUCT, product.id) is None


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [("percent", 0, "value"), ("percent", 101, "value"), ("share", 5, "kind")],
)
async def test_a_reward_out_of_range_is_refused(kind: str, value: int, field: str) -> None:
    product = await make_product()
    with pytest.raises(ValidationError) as refused:
        await make_rule(kind, value, product=product)
    assert refused.value.field == field


async def test_a_reward_for_a_product_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        await reward_rules.set_rule(
            applies_kind="product",
            applies_id=999_999,
            kind="percent",
            value=5,
            actor=await make_user_without_email(),
            now=NOW,
        )
    assert refused.value.field == "applies_id"


async def test_a_payout_is_held_when_asked_for_and_written_to_the_ledger_when_approved() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    admin = await make_user_without_email()
    await referred_purchase(referrer, buyer, await make_rule("percent", 10), 10_000)
    await referred_purchase(referrer, buyer, await make_rule("percent", 10), 5_000, at=NOW)
    at = AFTER_REFUND_PERIOD
    payout = await ledger.request_payout(referrer.id, 600, at)
    assert payout.status == PayoutStatus.REQUESTED
    assert await ledger.balance(referrer.id, now=at) == Balance(900, 900, 0)
    approved = await ledger.approve_payout(payout.id, actor=admin, now=at)
    assert (approved.status, approved.decided_by_id) == (PayoutStatus.APPROVED, admin.id)
    entry = await LedgerEntry.get(once_key=f"payout:{payout.id}")
    assert (entry.kind, entry.amount_fen, entry.payment_id) == (EntryKind.PAYOUT, -600, None)
    assert await ledger.balance(referrer.id, now=at) == Balance(900, 900, 0)
    with pytest.raises(PayoutDecided):
        await ledger.approve_payout(payout.id, actor=admin, now=at)
    assert await LedgerEntry.filter(kind=EntryKind.PAYOUT).count() == 1


async def test_a_payout_beyond_what_is_withdrawable_is_refused() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    admin = await make_user_without_email()
    await referred_purchase(referrer, buyer, await make_rule("percent", 10), 10_000)
    with pytest.raises(PayoutTooLarge) as within_the_period:
        await ledger.request_payout(referrer.id, 1, NOW + timedelta(days=1))
    assert within_the_period.value.withdrawable_fen == 0
    held = await ledger.request_payout(referrer.id, 700, AFTER_REFUND_PERIOD)
    with pytest.raises(PayoutTooLarge) as beyond:
        await ledger.request_payout(referrer.id, 301, AFTER_REFUND_PERIOD)
    assert beyond.value.withdrawable_fen == 300
    await ledger.reject_payout(held.id, actor=admin, now=AFTER_REFUND_PERIOD)
    assert (await ledger.balance(referrer.id, now=AFTER_REFUND_PERIOD)).withdrawable_fen == 1_000
    assert not await LedgerEntry.filter(kind=EntryKind.PAYOUT).exists()


async def test_ledger_entries_are_never_changed_or_deleted() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    _, entry = await referred_purchase(referrer, buyer, await make_rule("percent", 10), 10_000)
    assert entry is not None
    entry.amount_fen = 1_000_000
    with pytest.raises(LedgerIsAppendOnly):
        await entry.save()
    with pytest.raises(LedgerIsAppendOnly):
        await entry.delete()
    with pytest.raises(LedgerIsAppendOnly):
        await LedgerEntry.filter(id=entry.id).update(amount_fen=1_000_000)
    with pytest.raises(LedgerIsAppendOnly):
        await LedgerEntry.filter(id=entry.id).delete()
    assert (await LedgerEntry.get(id=entry.id)).amount_fen == 1_000


async def test_the_export_lists_the_years_entries_with_each_referrers_totals() -> None:
    admin = await make_user_without_email()
    zhang = await make_user_without_email(name="张三")
    li = await make_user_without_email(name="李四")
    buyer = await make_user_without_email()
    rule = await make_rule("percent", 10)
    new_year = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)  # 2026-01-01 00:00 in Shanghai
    await referred_purchase(zhang, buyer, rule, 10_000, at=new_year - timedelta(minutes=1))
    paid, _ = await referred_purchase(zhang, buyer, rule, 20_000, at=new_year)
    await referred_purchase(li, buyer, rule, 30_000, at=new_year + timedelta(days=3))
    spring = datetime(2026, 3, 1, tzinfo=UTC)
    await ledger.reverse(payment_id=paid.id, refunded_fen=5_000, amount_fen=20_000, now=spring)
    payout = await ledger.request_payout(zhang.id, 1_000, spring)
    await ledger.approve_payout(payout.id, actor=admin, now=spring)
    await referred_purchase(zhang, buyer, rule, 50_000, at=datetime(2027, 1, 5, tzinfo=UTC))

    rows = [row async for row in export_rows(2026)]
    assert all(len(row) == len(EXPORT_COLUMNS) for row in rows)
    kinds = [(row[1], row[4], row[6]) for row in rows]
    assert kinds == [
        # The credit of 2025-12-31 23:59 in Shanghai belongs to 2025, the one of 2027 to 2027.
        ("张三", "credit", 2_000),
        ("张三", "reversal", -500),
        ("张三", "payout", -1_000),
        ("张三", TOTAL, 500),
        ("李四", "credit", 3_000),
        ("李四", TOTAL, 3_000),
    ]
    earned_and_paid = [row[7:9] for row in rows if row[4] == TOTAL]
    assert earned_and_paid == [(1_500, 1_000), (3_000, 0)]
    assert rows[0][3] == "2026-01-01T00:00:00+08:00"
    assert [row async for row in export_rows(2024)] == []


@pytest.mark.postgres_only
async def test_payout_requests_at_once_never_exceed_what_is_withdrawable() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    await referred_purchase(referrer, buyer, await make_rule("percent", 10), 10_000)

    async def ask() -> bool:
        try:
            await ledger.request_payout(referrer.id, 400, AFTER_REFUND_PERIOD)
        except PayoutTooLarge:
            return False
        return True

    granted = await asyncio.gather(*(ask() for _ in range(12)))
    assert granted.count(True) == 2  # 2 x 400 of 1000: a third would exceed it
    assert await Payout.filter(referrer_id=referrer.id).count() == 2
    assert await ledger.balance(referrer.id, now=AFTER_REFUND_PERIOD) == Balance(200, 200, 0)


@pytest.mark.postgres_only
async def test_refunds_of_one_payment_reported_at_once_reverse_it_exactly() -> None:
    referrer, buyer = await make_user_without_email(), await make_user_without_email()
    payment, _ = await referred_purchase(referrer, buyer, await make_rule("percent", 10), 9_999)
    halfway = [1_111 * n for n in range(1, 6)] * 2  # each refunded total, reported twice

    async def report(refunded: int) -> None:
        await ledger.reverse(
            payment_id=payment.id, refunded_fen=refunded, amount_fen=9_999, now=NOW
        )

    await asyncio.gather(*(report(refunded) for refunded in halfway))
    assert await net_of(payment) == 999 * (9_999 - 5_555) // 9_999
    await asyncio.gather(*(report(1_111 * n) for n in range(1, 10)))
    assert await net_of(payment) == 0
