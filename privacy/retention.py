"""The end of what the erasure kept: a departed person's orders and payments are kept, detached
from them, for settings.order_retention_years after they were made (the E-Commerce Law, art.
31, asks for three years), then deleted here, with everything that only describes them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from membership.models import Enrollment, MembershipGrant
from payments.models import Payment, Refund
from referrals.models import LedgerEntry, Referral
from store.models import InvoiceRequest, Order, OrderEvent, OrderItem, RefundRequest

log = logging.getLogger("privacy.retention")


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind were deleted, and old payments kept for a referrer's ledger."""

    payments: int = 0
    orders: int = 0
    enrollments: int = 0
    grants: int = 0
    kept_for_ledger: int = 0


def years_before(now: datetime, years: int) -> datetime:
    """The same moment `years` calendar years earlier (29 February becomes the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


# A statement deletes at most BATCH rows of a kind, a run at most MOST_BATCHES of them per
# kind, each batch its own transaction: the rest waits for the next run (every 30 minutes).
BATCH = 500
MOST_BATCHES = 20


def _ids(query: QuerySet[Any]) -> Awaitable[list[int]]:
    return cast(Awaitable[list[int]], query.limit(BATCH).values_list("id", flat=True))


async def purge_retained(*, now: datetime, years: int) -> Purged:
    """Delete the orders, enrollments, membership grants and payments of erased people made
    before `now` minus `years` years, BATCH at a time, each batch one transaction:

    - an order with its items, status history, refund requests and invoice request (the
      stock units it took keep their order id: a unit sold stays sold);
    - an enrollment with the grant it paid for (the seat stays taken), and gifts of days;
    - a payment with its refunds, and the referral that named it;
    - except a payment a referrer's ledger entry names (the ledger is append-only and its
      export is the referrer's tax record): it is kept, with its order or enrollment, already
      detached from the departed person (privacy.erasure), and counted in kept_for_ledger.
    At most MOST_BATCHES batches of each kind a run. Idempotent: what is deleted is not found
    again."""
    cutoff = years_before(now, years)
    old = {"user__erased_at__not_isnull": True, "created_at__lt": cutoff}
    # Payments a ledger names (and the orders and enrollments they paid): kept, in SQL, so a
    # batch never fills up with rows that stay.
    named = Subquery(LedgerEntry.filter(payment_id__not_isnull=True).values("payment_id"))
    unpaid_or_gone = Q(payment_id=None) | ~Q(payment_id__in=named)
    payments = orders = enrollments = grants = 0
    for _ in range(MOST_BATCHES):
        async with in_transaction():
            gone = await _ids(Payment.filter(~Q(id__in=named), **old).order_by("id"))
            await Referral.filter(payment_id__in=gone).delete()
            await Refund.filter(payment_id__in=gone).delete()
            payments += await Payment.filter(id__in=gone).delete()
        if len(gone) < BATCH:
            break
    for _ in range(MOST_BATCHES):
        async with in_transaction():
            batch = await _ids(Order.filter(unpaid_or_gone, **old).order_by("id"))
            await OrderItem.filter(order_id__in=batch).delete()
            await OrderEvent.filter(order_id__in=batch).delete()
            await RefundRequest.filter(order_id__in=batch).delete()
            await InvoiceRequest.filter(order_id__in=batch).delete()
            orders += await Order.filter(id__in=batch).delete()
        if len(batch) < BATCH:
            break
    for _ in range(MOST_BATCHES):
        async with in_transaction():
            batch = await _ids(Enrollment.filter(unpaid_or_gone, **old).order_by("id"))
            grants += await MembershipGrant.filter(enrollment_id__in=batch).delete()
            enrollments += await Enrollment.filter(id__in=batch).delete()
        if len(batch) < BATCH:
            break
    for _ in range(MOST_BATCHES):
        gifts = await _ids(MembershipGrant.filter(enrollment_id=None, **old).order_by("id"))
        grants += await MembershipGrant.filter(id__in=gifts).delete()
        if len(gifts) < BATCH:
            break
    kept = await Payment.filter(id__in=named, **old).count()
    purged = Purged(payments, orders, enrollments, grants, kept)
    if payments or orders or enrollments or grants:
        log.info("retention purged", extra={"purged": vars(purged)})
    return purged
