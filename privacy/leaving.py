"""Leaving (注销) across the packages: what is explained before the form (the orders Shuyuan
still owes, orders held and unpaid, a membership's days left) and the one entry that cancels
an account (accounts.leaving.ask_to_leave, once nothing is owed), releasing its held orders.

Paid orders not yet delivered or refunded refuse the request (409 open_orders) rather than
let it proceed: delivering them needs the address and phone number the erasure would empty,
and a member who leaves with a parcel on its way can no longer be reached about it. The
wait is ours to end (ship it, or refund it on request), so it is not an unreasonable
condition; the page lists them and says what to do.

That check is read before the request commits, so a payment can still land on a held order
between the two (or on a seat held, or while its cancel fails). The guard that cannot be
passed is the erasure's: it postpones a person while any order, payment, enrollment or payout
is still open (privacy.erasure.owed_either_way), until the goods are delivered or the money
refunded or decided; tests/privacy/test_erasure.py walks that path.

Money owed to the member: a payout they asked for is decided by staff before the erasure
(which waits for it); rewards they never asked to be paid out are forfeited with the account,
and the page says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from accounts import leaving
from accounts.models import User
from errors import DomainError
from payments.provider import PaymentProvider
from privacy.errors import OpenOrders
from ratelimit import Counter
from referrals import ledger
from referrals.models import Payout, PayoutStatus
from store import orders
from store.memory import StoreMemory
from store.models import Order, OrderStatus

log = logging.getLogger(__name__)

# Orders Shuyuan still owes: paid, not yet delivered or refunded.
OWED = (OrderStatus.PAID, OrderStatus.SHIPPED)


@dataclass(frozen=True)
class BeforeLeaving:
    """What a member is told before they cancel their account."""

    owed: list[Order]  # refuse the request until delivered or refunded
    held: list[Order]  # held for them and unpaid: released at the request
    member_until: datetime | None  # a membership with time left: its days are forfeited
    # Rewards they could ask to be paid out and have not: forfeited with the account.
    withdrawable_fen: int = 0
    # Payouts asked for, not yet decided: staff decide them before the erasure (it waits).
    payouts: list[Payout] = field(default_factory=list)

    @property
    def may_leave(self) -> bool:
        return not self.owed


async def before_leaving(user: User, *, now: datetime) -> BeforeLeaving:
    """The orders, the membership and the rewards a member must know about before leaving."""
    mine = Order.filter(user_id=user.id)
    member_until = user.member_until if user.member_until and user.member_until > now else None
    return BeforeLeaving(
        owed=await mine.filter(status__in=list(OWED)).order_by("id"),
        held=await mine.filter(status=OrderStatus.PENDING_PAYMENT).order_by("id"),
        member_until=member_until,
        withdrawable_fen=(await ledger.balance(user.id, now=now)).withdrawable_fen,
        payouts=await Payout.filter(referrer_id=user.id, status=PayoutStatus.REQUESTED).order_by(
            "id"
        ),
    )


async def leave(
    user: User,
    *,
    password: str | None,
    code: str | None,
    now: datetime,
    days: int,
    counter: Counter,
    provider: PaymentProvider,
    memory: StoreMemory | None = None,
    keep_token_digest: str | None = None,
    signed_in_at: datetime | None = None,
) -> datetime:
    """Cancel `user`'s account (accounts.leaving.ask_to_leave: the proof, the cooling-off of
    `days`, every way in ended), then give back the orders held for them and unpaid; a
    membership's days left are forfeited (not refunded). Returns when it will be erased.
    Raises OpenOrders while an order is owed to them, and what ask_to_leave raises."""
    explained = await before_leaving(user, now=now)
    if explained.owed:
        raise OpenOrders([order.id for order in explained.owed])
    erase_after = await leaving.ask_to_leave(
        user, password=password, code=code, now=now, days=days, counter=counter,
        keep_token_digest=keep_token_digest, signed_in_at=signed_in_at,
    )  # fmt: skip
    for order in explained.held:
        try:
            await orders.cancel_order(
                provider=provider, order_id=order.id, user=user, now=now, memory=memory
            )
        except DomainError as exc:  # paid meanwhile, or the provider cannot say yet: its
            # hold runs out on its own (store.orders.release_expired_orders)
            log.info("order %s not released at leaving: %s", order.id, exc.code)
    return erase_after
