"""What staff do with orders: list and export them, ship, mark delivered, refund. Each action is
an audit entry when staff do it ("order.ship", "order.refund"; an export is "export.orders")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from tortoise.transactions import in_transaction

import links
from accounts import audit, notices
from accounts.models import User
from errors import ValidationError
from payments import services as payments
from payments.provider import PaymentProvider
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
    *, order_id: int, tracking_number: str, actor: User | None = None, now: datetime | None = None
) -> Order:
    """A paid order is sent, with its tracking number; its buyer is told. Audit:
    "order.ship". Raises ValidationError("tracking_number"), OrderNotFound, BadOrderState."""
    tracking = " ".join(tracking_number.split())
    if not 4 <= len(tracking) <= 40:
        raise ValidationError("tracking_number", "must be 4 to 40 characters")
    async with in_transaction():
        # The order moves first: a refused ship changes nothing, not even the tracking number.
        if not await move(order_id, OrderStatus.SHIPPED, frm=[OrderStatus.PAID], note=tracking):
            if not await Order.exists(id=order_id):
                raise OrderNotFound()
            raise BadOrderState("Only a paid order can be shipped.")
        await Order.filter(id=order_id).update(tracking_number=tracking)
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
            before={"status": OrderStatus.PAID, "tracking_number": None},
            after={"status": OrderStatus.SHIPPED, "tracking_number": tracking},
            now=now,
        )
    return order


async def mark_delivered(*, order_id: int) -> Order:
    async with in_transaction():
        if not await move(order_id, OrderStatus.DELIVERED, frm=[OrderStatus.SHIPPED]):
            if not await Order.exists(id=order_id):
                raise OrderNotFound()
            raise BadOrderState("Only a shipped order can be delivered.")
        order = await Order.get(id=order_id)
        await notices.notify(
            order.user_id,  # type: ignore[attr-defined]
            kind="order_delivered",
            params={"order": order.id},
            link=links.path("store.order_page", id=order.id),
        )
    return order


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
