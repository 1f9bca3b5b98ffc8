"""What an order's payment does when it settles: the store's handlers for payments.

register(purposes) hands them to an app's payments (composition.py calls it).
"""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

import links
from accounts import notices
from accounts.models import User
from errors import DomainError
from payments import services as payments
from payments.models import Payment, PaymentStatus
from store import addresses, holds
from store.errors import BadOrderState
from store.models import Order, OrderEvent, OrderItem, OrderStatus, RaffleEntry
from store.orders import PAYMENT_PURPOSE, SOLD_STATUSES, move
from store.sale import check_can_buy
from translation import yuan


def register(purposes: payments.Purposes) -> None:
    purposes.register(
        PAYMENT_PURPOSE,
        payments.PurposeHandlers(
            fulfil=fulfil,
            on_refused=on_refused,
            on_failed=on_failed,
            on_refunded=on_refunded,
            paying_page="store.paying_page",
        ),
    )


async def fulfil(payment: Payment, now: datetime) -> payments.Fulfilment:
    """The order of a succeeded payment is paid. One that was released meanwhile (its hold
    expired, its buyer cancelled) is taken again if the sale is still on for the buyer, the
    per-customer limit allows and the units are there; otherwise the payment is refused and
    refunded. The buyer is told which of the two happened."""
    order = await Order.get_or_none(id=int(payment.subject_id))
    if order is None:
        return payments.Fulfilment.REFUSED
    if order.status == OrderStatus.PENDING_PAYMENT and await move(
        order.id, OrderStatus.PAID, frm=[OrderStatus.PENDING_PAYMENT]
    ):
        await Order.filter(id=order.id).update(paid_at=now, payment_id=payment.id)
        await addresses.remember(order, now=now)
        await notices.notify(
            order.user_id,  # type: ignore[attr-defined]
            kind="order_paid",
            params={"order": order.id, "amount": yuan(order.total_fen)},
            link=links.path("store.receipt_page", id=order.id),
        )
        return payments.Fulfilment.FULFILLED
    order = await Order.get(id=order.id)
    if order.status != OrderStatus.CANCELLED:  # paid (by this payment, or by another one)
        paid_by_this = order.payment_id == payment.id
        return payments.Fulfilment.FULFILLED if paid_by_this else payments.Fulfilment.REFUSED
    if not await _take_again(order, now=now):
        return payments.Fulfilment.REFUSED
    await Order.filter(id=order.id).update(paid_at=now, payment_id=payment.id)
    await addresses.remember(order, now=now)
    await notices.notify(
        order.user_id,  # type: ignore[attr-defined]
        kind="order_paid_late",
        params={"order": order.id},
        link=links.path("store.order_page", id=order.id),
    )
    return payments.Fulfilment.FULFILLED


async def _take_again(order: Order, *, now: datetime) -> bool:
    """Hold a cancelled order's units again and mark it paid, all or nothing."""
    user = await User.get(id=order.user_id)  # type: ignore[attr-defined]
    items = await OrderItem.filter(order_id=order.id).select_related("product")
    products = {item.product.id: item.product for item in items}
    winners = {
        entry.product_id  # type: ignore[attr-defined]
        for entry in await RaffleEntry.filter(
            product_id__in=list(products), user_id=user.id, won=True
        )
    }
    try:
        for product in products.values():
            check_can_buy(product, user, now, winner=product.id in winners)
        async with in_transaction():  # a savepoint: a short claim undoes it all
            wanted = {item.product.id: item.quantity for item in items}
            await holds.reclaim(order, user, wanted, products)
            if not await move(
                order.id, OrderStatus.PAID, frm=[OrderStatus.CANCELLED], note="paid late"
            ):
                raise BadOrderState()
    except DomainError:
        return False
    return True


async def on_refused(payment: Payment) -> None:
    order = await Order.get_or_none(id=int(payment.subject_id))
    if order is None:
        return
    await notices.notify(
        order.user_id,  # type: ignore[attr-defined]
        kind="order_refunded_late",
        params={"order": order.id},
        link=links.path("store.order_page", id=order.id),
    )


async def on_failed(payment: Payment) -> None:
    # The order keeps its units: the buyer may pay again until the hold runs out.
    await OrderEvent.create(
        order_id=int(payment.subject_id),
        status=OrderStatus.PENDING_PAYMENT,
        note=f"payment failed: {payment.failure_code or 'failed'}"[:200],
    )


async def on_refunded(payment: Payment, amount_fen: int) -> None:
    if payment.status != PaymentStatus.REFUNDED:
        return  # a partial refund is a gesture: the order stands
    order = await Order.get_or_none(id=int(payment.subject_id))
    if order is None:
        return
    async with in_transaction():
        if await move(order.id, OrderStatus.REFUNDED, frm=list(SOLD_STATUSES), note="refunded"):
            await holds.give_back(order, now=payment.updated_at, memory=None, only_live=True)
