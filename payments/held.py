"""The one way a held thing is paid for. A purpose (a store order, a membership seat) holds
something for its buyer until a deadline, and describes it to payments as a Held: its amount,
its hold's deadline, whether it is still payable. pay_held guards it, pays until the hold runs
out, and records the payment on the thing; what a success does is the purpose's fulfilment
(payments.purposes). No HTTP here: payments.checkout is the pages' side of the same flow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from errors import DomainError
from payments.provider import PaymentProvider
from payments.services import PaymentChoice, PaymentResult, pay


class HeldState(StrEnum):
    PAYABLE = "payable"  # held for its buyer, waiting for a payment
    PAID = "paid"  # paid for (and delivered, or on its way)
    OVER = "over"  # released: its hold ran out, or the buyer gave it back


@dataclass(frozen=True)
class Held:
    """One thing held for its buyer while they pay, as its purpose describes it."""

    purpose: str
    subject_id: int
    buyer_id: int
    amount_fen: int
    hold_expires_at: datetime
    state: HeldState
    payment_id: int | None  # its latest payment, if one was begun

    def standing(self, now: datetime) -> HeldState:
        """Where its checkout stands at `now`, the one answer the pay guard (pay_held) and the
        checkout page (payments.checkout) both take: PAID; PAYABLE while held and before its
        deadline (half-open: over at hold_expires_at); else OVER, released or not yet."""
        if self.state == HeldState.PAYABLE and now >= self.hold_expires_at:
            return HeldState.OVER  # ran out: the release job gives it back soon
        return self.state

    def payable(self, now: datetime) -> bool:
        return self.standing(now) == HeldState.PAYABLE


async def pay_held(
    *,
    provider: PaymentProvider,
    held: Held,
    choice: PaymentChoice,
    now: datetime,
    paid: Callable[[], DomainError],
    over: Callable[[], DomainError],
    record: Callable[[int], Awaitable[None]],
    before: Callable[[], Awaitable[None]] | None = None,
) -> PaymentResult:
    """Pay for `held` as `choice` says. Raises `paid()` when it is paid already, `over()` when
    it is no longer held (or its hold ran out), what `before` raises (the purpose's own last
    check, run once the guard passed: the store's shipping address), and what payments.pay
    raises. The payment is offered no longer than the hold, and recorded on the thing
    (`record(payment_id)`) whatever its outcome, so its pages can follow it."""
    standing = held.standing(now)
    if standing == HeldState.PAID:
        raise paid()
    if standing == HeldState.OVER:
        raise over()
    if before is not None:
        await before()
    result = await pay(
        provider=provider,
        user_id=held.buyer_id,
        purpose=held.purpose,
        subject_id=str(held.subject_id),
        amount_fen=held.amount_fen,
        choice=choice,
        pay_until=held.hold_expires_at,
        now=now,
    )
    await record(result.payment.id)
    return result
