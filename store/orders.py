"""Orders: placing one (the pages' buy button and the API's alike), paying, giving back, shipping.

An order holds its units (store.holds) for HOLD_FOR while its buyer pays. Only its expiry or
its buyer's cancel gives them back; a failed payment leaves the hold as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tortoise.transactions import in_transaction

import metrics
from accounts import services as accounts
from accounts.errors import Unauthorized
from accounts.models import User
from accounts.sessions import SessionScalar
from db import fetch_one, from_row, read_sql
from errors import DomainError, RateLimited, ValidationError
from payments import services as payments
from payments.held import Held, HeldState, pay_held
from payments.models import Payment
from payments.provider import PaymentProvider
from ratelimit import Counter, Limit, seconds_left
from store import holds
from store.errors import (
    AddressRequired,
    HoldExpired,
    LimitExceeded,
    OrderNotFound,
    OrderPaid,
    OrderTooLarge,
    ProductNotFound,
    SoldOut,
)
from store.memory import StoreMemory
from store.models import Order, OrderEvent, OrderItem, OrderStatus, Product, RaffleEntry
from store.sale import check_can_buy, open_to_everyone
from store.shipping import Address, goods_fen, shipping_fee

log = logging.getLogger(__name__)
PAYMENT_PURPOSE = "order"
HOLD_FOR = holds.HOLD_FOR
MAX_ITEMS = 20
MAX_QUANTITY = 100
# An order's total in fen, at most: what one payment may be, well inside the 32-bit columns
# of orders and payments (20 lines of 100 units at the highest price would be 2e10 fen,
# which PostgreSQL refused with a 500).
MAX_ORDER_FEN = payments.MAX_AMOUNT_FEN
# Buy requests per account: generous for a person, tight for a script. Per account, not per
# address, so a crowd behind one carrier NAT address still gets through.
BUY_REQUESTS = Limit(attempts=10, window_seconds=10)
SOLD_STATUSES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


@dataclass(frozen=True)
class Wanted:
    product_id: int
    quantity: int


def _merged(items: list[Wanted]) -> dict[int, int]:
    """Quantities by product; raises ValidationError for no lines or too many, and
    LimitExceeded for more than MAX_QUANTITY of one product."""
    if not items or len(items) > MAX_ITEMS:
        raise ValidationError("items", f"must list 1 to {MAX_ITEMS} products")
    merged: dict[int, int] = {}
    for item in items:
        quantity = item.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise ValidationError("quantity", "must be a whole number")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise ValidationError("quantity", f"must be a whole number from 1 to {MAX_QUANTITY}")
        merged[item.product_id] = merged.get(item.product_id, 0) + quantity
    if any(quantity > MAX_QUANTITY for quantity in merged.values()):
        # Lines of one product add up: 100 of it at most, however the order spells them
        # (each line is valid alone, so it is a limit, not a malformed field).
        raise LimitExceeded()
    return merged


def _check_total(wanted: dict[int, int], products: dict[int, Product], fee: int) -> None:
    """Invariant "an order's total fits what it is paid with": its goods and shipping fee at
    most MAX_ORDER_FEN."""
    if goods_fen(wanted, products) + fee > MAX_ORDER_FEN:
        raise OrderTooLarge()


async def _count_buy(counter: Counter, key: str) -> None:
    hits = await counter.hit(key, BUY_REQUESTS)
    if hits > BUY_REQUESTS.attempts:
        raise RateLimited(seconds_left(BUY_REQUESTS), "Too many tries at once; wait a moment.")


async def place_order(
    *,
    buyer: User | str | None,
    items: list[Wanted],
    now: datetime,
    counter: Counter,
    memory: StoreMemory | None = None,
    shipping: Address | None = None,
    free_shipping_over_fen: int = 0,
    engine: str | None = None,
) -> Order:
    """An order holding its units for HOLD_FOR while the shopper pays: all or nothing.
    It costs its goods and their shipping fee (store.shipping.shipping_fee, with the store's
    free-shipping total `free_shipping_over_fen`, settings.free_shipping_over_fen).

    `buyer` is the signed-in user (a page) or the bearer token of the API's caller (None: no
    token, Unauthorized, unless the drop is known to be sold out). A drop
    this worker saw sold out within the last second is answered from `memory` first, before
    anyone is looked up (whether it is sold out is public). Every order counts against its
    account's buy limit; a token's orders count against the token too, before the database is
    asked. A drop open to everyone is held for a token in one round trip (the statement finds
    the token's owner); anything else looks the owner up first. `shipping`, given with an
    order of goods that ship, is kept with it. `engine` names the hold engine (store.holds);
    None picks the fastest that can (tests/store/test_hold_engines.py names each in turn).

    Raises RateLimited, ValidationError, Unauthorized/SessionEnded (a token), ProductNotFound,
    MembersOnly, NotStarted, Ended, NotAWinner, LimitExceeded, SoldOut.
    """
    memory = memory if memory is not None else StoreMemory()
    wanted = _merged(items)
    title = memory.known_sold_out(list(wanted))
    if title is not None:
        metrics.SOLD_OUT_ANSWERS.labels(source="memory").inc()
        raise SoldOut(title=title)
    if buyer is None:
        raise Unauthorized()
    digest = accounts.token_digest(buyer) if isinstance(buyer, str) else None
    await _count_buy(counter, f"buy-token:{digest}" if digest else f"buy:{buyer.id}")  # type: ignore[union-attr]
    products = await memory.products_for_order(list(wanted))
    for product_id in wanted:
        if product_id not in products:
            raise ProductNotFound(f"No product {product_id}.")
    fee = shipping_fee(wanted, products, free_over_fen=free_shipping_over_fen)
    _check_total(wanted, products, fee)
    if not any(products[product_id].requires_shipping for product_id in wanted):
        shipping = None  # nothing ships: no address is kept
    address = shipping.columns() if shipping is not None else None
    if digest is not None and engine != "portable" and _held_for_a_token(wanted, products, now):
        held = await holds.hold(
            buyer=digest,
            wanted=wanted,
            products=products,
            now=now,
            memory=memory,
            shipping=address,
            shipping_fee_fen=fee,
            engine=engine,
        )
        try:
            await _count_buy(counter, f"buy:{held.buyer_id}")
        except RateLimited:
            await _cancel(held.order, now=now, note="buy limit", memory=memory)
            raise
        return held.order
    if digest is not None:
        user = await accounts.user_for_token_digest(digest, now=now, consented=True)
        if user is None:
            raise Unauthorized()
        await _count_buy(counter, f"buy:{user.id}")
    else:
        assert isinstance(buyer, User)
        user = buyer
    await _check_sale(user, wanted, products, now)
    held = await holds.hold(
        buyer=user,
        wanted=wanted,
        products=products,
        now=now,
        memory=memory,
        shipping=address,
        shipping_fee_fen=fee,
        engine=engine,
    )
    return held.order


def _held_for_a_token(wanted: dict[int, int], products: dict[int, Product], now: datetime) -> bool:
    """Whether the order can be held before knowing who the token's owner is: one statement
    can, and no sale rule depends on the person."""
    if not holds.single_statement(wanted):
        return False
    [(product_id, quantity)] = wanted.items()
    product = products[product_id]
    limit = product.per_customer_limit
    return open_to_everyone(product, now) and (limit is None or quantity <= limit)


async def _check_sale(
    user: User, wanted: dict[int, int], products: dict[int, Product], now: datetime
) -> None:
    winners: set[int] = set()
    if any(products[product_id].raffle_entries_until is not None for product_id in wanted):
        won = await RaffleEntry.filter(product_id__in=list(wanted), user_id=user.id, won=True)
        winners = {entry.product_id for entry in won}  # type: ignore[attr-defined]
    for product_id, quantity in wanted.items():
        product = products[product_id]
        check_can_buy(product, user, now, winner=product_id in winners)
        if product.per_customer_limit is not None and quantity > product.per_customer_limit:
            raise LimitExceeded()


async def order_for_user(order_id: int, user: User) -> Order:
    order = await Order.get_or_none(id=order_id, user_id=user.id)
    if order is None:
        raise OrderNotFound()
    return order


async def order_items(order: Order) -> list[OrderItem]:
    return await OrderItem.filter(order_id=order.id).select_related("product")


async def ships(order: Order) -> bool:
    """Whether anything in the order is sent by post (digital goods are not)."""
    return await OrderItem.filter(order_id=order.id, product__requires_shipping=True).exists()


def has_address(order: Order) -> bool:
    """An address to ship to (an older order's one free-text line counts)."""
    return bool(order.ship_address)


def shipping_json(order: Order) -> dict[str, str | None] | None:
    if not has_address(order):
        return None
    return {
        "name": order.ship_name,
        "phone": order.ship_phone,
        "province": order.ship_province,
        "city": order.ship_city,
        "district": order.ship_district,
        "address": order.ship_address,
        "district_code": order.ship_district_code,
    }


async def set_shipping(order: Order, address: Address) -> Order:
    """Where a pending order ships (given again, it replaces the one before)."""
    (
        order.ship_name,
        order.ship_phone,
        order.ship_province,
        order.ship_city,
        order.ship_district,
        order.ship_address,
        order.ship_district_code,
    ) = address.columns()
    await Order.filter(id=order.id, status=OrderStatus.PENDING_PAYMENT).update(
        ship_name=order.ship_name,
        ship_phone=order.ship_phone,
        ship_province=order.ship_province,
        ship_city=order.ship_city,
        ship_district=order.ship_district,
        ship_address=order.ship_address,
        ship_district_code=order.ship_district_code,
    )
    return order


async def pay_order(
    *,
    provider: PaymentProvider,
    order_id: int,
    user: User,
    now: datetime,
    choice: payments.PaymentChoice,
    shipping: Address | None = None,
) -> payments.PaymentResult:
    """Pay for a held order, with its shipping address when it ships (given here, or with
    the order). Raises OrderNotFound, OrderPaid, HoldExpired, AddressRequired and what
    payments.pay raises."""
    order = await order_for_user(order_id, user)

    async def address_first() -> None:
        # Invariant "nothing paid that cannot be shipped": goods that ship are paid with an
        # address.
        if await ships(order):
            if shipping is not None:
                await set_shipping(order, shipping)
            if not has_address(order):
                raise AddressRequired()

    async def record(payment_id: int) -> None:
        await Order.filter(id=order.id).update(payment_id=payment_id)

    return await pay_held(
        provider=provider,
        held=held_order(order),
        choice=choice,
        now=now,
        paid=OrderPaid,
        over=HoldExpired,
        record=record,
        before=address_first,
    )


def held_order(order: Order) -> Held:
    """An order, as the one checkout sees it (payments.held)."""
    if order.status == OrderStatus.PENDING_PAYMENT:
        state = HeldState.PAYABLE
    elif order.status in SOLD_STATUSES:
        state = HeldState.PAID
    else:
        state = HeldState.OVER
    return Held(
        purpose=PAYMENT_PURPOSE,
        subject_id=order.id,
        buyer_id=order.user_id,  # type: ignore[attr-defined]
        amount_fen=order.total_fen,
        hold_expires_at=order.hold_expires_at,
        state=state,
        payment_id=order.payment_id,
    )


async def move(order_id: int, to: OrderStatus, *, frm: list[OrderStatus], note: str = "") -> bool:
    """Move an order from one of `frm` to `to`, once (the guarded update decides who wins),
    recording it in the order's history."""
    moved = await Order.filter(id=order_id, status__in=frm).update(status=to)
    if moved:
        await OrderEvent.create(order_id=order_id, status=to, note=note)
    return bool(moved)


async def _cancel(order: Order, *, now: datetime, note: str, memory: StoreMemory | None) -> bool:
    async with in_transaction():
        if not await move(
            order.id, OrderStatus.CANCELLED, frm=[OrderStatus.PENDING_PAYMENT], note=note
        ):
            return False
        await holds.give_back(order, now=now, memory=memory)
    return True


async def release_expired_orders(
    *, provider: PaymentProvider, now: datetime, memory: StoreMemory | None = None
) -> int:
    """Cancel unpaid orders whose hold ran out, giving their stock back. A payment still under
    way for one is canceled at the provider first; if it turns out paid the order is paid, and
    if the provider cannot say, the order waits for the next round."""
    released = 0
    for order in await Order.filter(status=OrderStatus.PENDING_PAYMENT, hold_expires_at__lte=now):
        try:
            if await payments.close_before_release(
                provider, purpose=PAYMENT_PURPOSE, subject_id=str(order.id), now=now
            ):
                continue
        except DomainError as exc:  # the provider cannot say yet
            log.info("order %s: hold not released yet: %s", order.id, exc.code)
            continue
        released += await _cancel(order, now=now, note="hold expired", memory=memory)
    return released


async def cancel_order(
    *,
    provider: PaymentProvider,
    order_id: int,
    user: User,
    now: datetime,
    memory: StoreMemory | None = None,
) -> Order:
    """The buyer gives back an order that is waiting for payment: its units return at once. A
    payment under way for it is canceled at the provider first. Cancelling a cancelled order
    changes nothing. Raises OrderNotFound (someone else's), OrderPaid, and PaymentUnavailable or
    PaymentInProgress when the provider cannot say yet whether it was paid."""
    order = await order_for_user(order_id, user)
    if order.status == OrderStatus.CANCELLED:
        return order
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise OrderPaid()
    if await payments.close_before_release(
        provider, purpose=PAYMENT_PURPOSE, subject_id=str(order.id), now=now
    ):
        raise OrderPaid()
    await _cancel(order, now=now, note="cancelled by the buyer", memory=memory)
    order = await Order.get(id=order.id)
    if order.status != OrderStatus.CANCELLED:
        raise OrderPaid()  # paid in the meantime
    return order


async def order_events(order: Order) -> list[OrderEvent]:
    """What happened to an order, oldest first (its page's history)."""
    return await OrderEvent.filter(order_id=order.id).order_by("id")


async def order_payment(order: Order) -> Payment | None:
    """The order's latest payment, if one was begun (its page and receipt say how it was paid)."""
    return await Payment.get_or_none(id=order.payment_id) if order.payment_id else None


async def orders_of(user: User, *, limit: int = 50) -> list[Order]:
    """A buyer's newest orders, each with its items and their products (for the orders list)."""
    return await (
        Order.filter(user_id=user.id)
        .order_by("-id")
        .limit(limit)
        .prefetch_related("items__product")
    )


_ORDER_TO_PAY = read_sql(Path(__file__).resolve().parent / "sql" / "order_to_pay.sql")


# Whether the person has an order waiting to be paid, read with their session on the front
# page (composition.py adds it there): order_to_pay asks the database only when there is one.
PENDING_ORDER = SessionScalar(
    "store_pending_order",
    read_sql(Path(__file__).resolve().parent / "sql" / "pending_order_id.sql"),
)


async def order_to_pay(user: User, now: datetime) -> Order | None:
    """The buyer's newest order still held for them and not paid yet, if any. For a person
    whose session read found none waiting (PENDING_ORDER), none, without a query: the front
    page, which alone asks, creates no order in its request."""
    along = user.read_with_session
    if along is not None and PENDING_ORDER.name in along and along[PENDING_ORDER.name] is None:
        return None
    row = await fetch_one(_ORDER_TO_PAY, [user.id, OrderStatus.PENDING_PAYMENT.value, now])
    return from_row(Order, **row) if row is not None else None
