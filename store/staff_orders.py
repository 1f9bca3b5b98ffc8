"""What staff do with orders: list and export them, ship, mark delivered, refund. Each action is
an audit entry when staff do it ("order.ship", "order.refund"; an export is "export.orders")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

from tortoise.transactions import in_transaction

import links
from accounts import audit, notices
from accounts.models import User
from errors import ValidationError
from payments import services as payments
from payments.provider import PaymentProvider
from store import carriers
from store.errors import BadOrderState, OrderNotFound
from store.models import Order, OrderStatus
from store.orders import SOLD_STATUSES, move

EXPORT_BATCH = 1000


def _status_filter(status: str | None) -> OrderStatus | None:
    return OrderStatus(status) if status in {s.value for s in OrderStatus} else None


async def orders_for_admin(status: str | None = None, *, limit: int = 200) -> list[Order]:
    """The newest orders with their buyers, of one status when `status` names one."""
    query = Order.all().select_related("user").order_by("-id")
    chosen = _status_filter(status)
    if chosen is not None:
        query = query.filter(status=chosen)
    return await query.limit(limit)


async def all_orders(
    status: str | None = None, *, batch_size: int = EXPORT_BATCH
) -> AsyncIterator[Order]:
    """Every order (of one status when `status` names one) with its buyer, newest first, read
    `batch_size` at a time by id: an export of 100,000 orders holds one batch in memory."""
    chosen = _status_filter(status)
    before: int | None = None
    while True:
        query = Order.all().select_related("user")
        if chosen is not None:
            query = query.filter(status=chosen)
        if before is not None:
            query = query.filter(id__lt=before)
        batch = await query.order_by("-id").limit(batch_size)
        for order in batch:
            yield order
        if len(batch) < batch_size:
            return
        before = batch[-1].id


async def record_export(*, actor: User | None, status: str | None, now: datetime) -> None:
    """The orders export is itself an audit entry ("export.orders"), written before it
    streams."""
    chosen = _status_filter(status)
    await audit.record(
        actor=actor,
        action="export.orders",
        object_type="order",
        after={"filters": {"status": chosen.value} if chosen else {}},
        now=now,
    )


async def mark_shipped(
    *,
    order_id: int,
    carrier: str,
    tracking_number: str,
    actor: User | None = None,
    now: datetime | None = None,
) -> Order:
    """A paid order is sent with `carrier` (store.carriers) and its tracking number; its
    buyer is told. Audit: "order.ship". Raises ValidationError("carrier", "tracking_number"),
    OrderNotFound, BadOrderState."""
    chosen = carriers.carrier(carrier)
    tracking = " ".join(str(tracking_number).split())
    if not 4 <= len(tracking) <= 40:
        raise ValidationError("tracking_number", "must be 4 to 40 characters")
    now = now or datetime.now(UTC)
    async with in_transaction():
        # The order moves first: a refused ship changes nothing, not even the tracking number.
        if not await move(order_id, OrderStatus.SHIPPED, frm=[OrderStatus.PAID], note=tracking):
            if not await Order.exists(id=order_id):
                raise OrderNotFound()
            raise BadOrderState("Only a paid order can be shipped.")
        await Order.filter(id=order_id).update(
            tracking_number=tracking, carrier=chosen.code, shipped_at=now
        )
        order = await Order.get(id=order_id)
        await notices.notify(
            order.user_id,  # type: ignore[attr-defined]
            kind="order_shipped",
            params={"order": order.id, "tracking": tracking},
            link=links.path("store.order_page", id=order.id),
        )
        await audit.record(
            actor=actor,
            action="order.ship",
            object_type="order",
            object_id=order.id,
            before={"status": OrderStatus.PAID, "tracking_number": None, "carrier": None},
            after={
                "status": OrderStatus.SHIPPED,
                "tracking_number": tracking,
                "carrier": chosen.code,
            },
            now=now,
        )
    return order


async def mark_delivered(*, order_id: int, by_itself: bool = False) -> Order:
    """A shipped order arrived (确认收货): by its buyer (confirm_receipt), or by itself once
    it was shipped long enough ago (confirm_received). Its buyer is told. Raises
    OrderNotFound, BadOrderState (not shipped: already confirmed, refunded...)."""
    async with in_transaction():
        note = "confirmed by itself" if by_itself else "confirmed by the buyer"
        if not await move(order_id, OrderStatus.DELIVERED, frm=[OrderStatus.SHIPPED], note=note):
            if not await Order.exists(id=order_id):
                raise OrderNotFound()
            raise BadOrderState("Only a shipped order can be confirmed received.")
        order = await Order.get(id=order_id)
        await notices.notify(
            order.user_id,  # type: ignore[attr-defined]
            kind="order_delivered",
            params={"order": order.id},
            link=links.path("store.order_page", id=order.id),
        )
    return order


async def confirm_receipt(*, order_id: int, user: User) -> Order:
    """The buyer confirms their shipped order arrived (确认收货). Raises OrderNotFound (not
    theirs too), BadOrderState."""
    if not await Order.exists(id=order_id, user_id=user.id):
        raise OrderNotFound()
    return await mark_delivered(order_id=order_id)


async def confirm_received(*, now: datetime, days: int, limit: int = 500) -> int:
    """Orders still shipped `days` after they were shipped are confirmed received by
    themselves (the job engine, every 30 minutes), as mainland shops do; returns how many. An order
    its buyer confirmed, or staff refunded, meanwhile is left as it is."""
    due = (
        await Order.filter(status=OrderStatus.SHIPPED, shipped_at__lte=now - timedelta(days=days))
        .order_by("shipped_at", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    confirmed = 0
    for order_id in due:
        try:
            await mark_delivered(order_id=cast(int, order_id), by_itself=True)
        except BadOrderState:
            continue  # moved meanwhile
        confirmed += 1
    return confirmed


async def refund_order(
    *,
    provider: PaymentProvider,
    order_id: int,
    now: datetime,
    actor: User | None = None,
) -> Order:
    """Refund a paid order in full: money back through payments, stock back if the drop is
    live (store.fulfilment, once the provider confirms).

    What is atomic is payments.refund's: the amount is reserved on the payment by one
    guarded UPDATE before the provider is asked (two refunds at once refund once); once the
    provider refunded, the payment's new state, the order's move to refunded with its stock
    back, and the audit entry "order.refund" (the payment's status and refunded amount before
    and after, who asked) are one transaction. When the provider refuses or cannot be
    reached, the reservation is given back and "order.refund_failed" (the error's code) is
    written in one transaction, and the order is as it was. Should the process stop between
    the provider's refund and that commit, the amount stays reserved and no entry is written
    (reconciliation settles the payment).

    Raises OrderNotFound, BadOrderState (not paid) and what payments.refund raises.
    """
    order = await Order.get_or_none(id=order_id)
    if order is None:
        raise OrderNotFound()
    if order.payment_id is None or order.status not in SOLD_STATUSES:
        raise BadOrderState("Only a paid order can be refunded.")
    await payments.refund(
        provider=provider,
        payment_id=order.payment_id,
        now=now,
        actor=actor,
        recorded_as=("order", order.id),
    )
    return await Order.get(id=order.id)
