"""Referred purchases for the ledger's tests: a product with a reward rule, payments that
succeeded (real rows, as payments writes them), and the people involved."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from accounts.models import User
from payments.models import Payment, PaymentStatus
from referrals import ledger, reward_rules
from referrals.models import LedgerEntry, RewardRule
from store import services as store
from store.models import Product
from tests.factories import make_user_without_email

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
REFUND_DAYS = 7
AFTER_REFUND_PERIOD = NOW + timedelta(days=REFUND_DAYS)
_subjects = itertools.count(1)


async def make_product(price_fen: int = 10_000) -> Product:
    return await store.create_product(
        title="《认知》", description="", category="图书", price_fen=price_fen, stock=3
    )


async def make_rule(
    kind: str = "percent",
    value: int = 10,
    *,
    members_only: bool = False,
    product: Product | None = None,
    admin: User | None = None,
) -> RewardRule:
    product = product or await make_product()
    return await reward_rules.set_rule(
        applies_kind="product",
        applies_id=product.id,
        kind=kind,
        value=value,
        members_only=members_only,
        actor=admin or await make_user_without_email(name="管理员"),
        now=NOW,
    )


async def make_payment(buyer: User, amount_fen: int, *, at: datetime = NOW) -> Payment:
    return await Payment.create(
        user=buyer,
        purpose="order",
        subject_id=str(next(_subjects)),
        amount_fen=amount_fen,
        status=PaymentStatus.SUCCEEDED,
        succeeded_at=at,
    )


async def referred_purchase(
    referrer: User,
    buyer: User,
    rule: RewardRule,
    amount_fen: int,
    *,
    member: bool = False,
    at: datetime = NOW,
) -> tuple[Payment, LedgerEntry | None]:
    """`buyer`, referred by `referrer`, pays `amount_fen` at `at`, and the ledger is told."""
    payment = await make_payment(buyer, amount_fen, at=at)
    entry = await ledger.credit(
        payment_id=payment.id,
        referrer_id=referrer.id,
        buyer_id=buyer.id,
        rule=rule,
        amount_fen=amount_fen,
        buyer_is_member=member,
        now=at,
        refund_days=REFUND_DAYS,
    )
    return payment, entry


async def net_of(payment: Payment) -> int:
    """The payment's net reward: its credit and its reversals."""
    return sum(entry.amount_fen for entry in await LedgerEntry.filter(payment_id=payment.id))
