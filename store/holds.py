"""Holding stock for an order: the one place that knows the database's dialect, the batches and
the SQL of a hold. Everything else calls hold().

PostgreSQL is the reference: an order of one product is held by the function store_hold
(store/sql/hold.sql) in one round trip, the token's owner found by the same statement, and
holds waiting in a worker go to the database in batches (store_hold_many, through the
worker's batches.StatementBatch). Anything else (an
order of several products, SQLite) is held portably, by store/sql/take_allowance.sql and
claim_units.sql inside one transaction. Both keep the same invariants, named where the SQL
enforces them; tests/store/test_hold_engines.py runs the same buying story through both and
demands the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.expressions import F
from tortoise.transactions import in_transaction

import metrics
from accounts import services as accounts
from accounts.errors import Unauthorized
from accounts.models import User
from db import AsyncpgClient, for_dialect, from_row, read_sql
from errors import DomainError
from store.errors import LimitExceeded, SoldOut
from store.memory import HOLD_ONE_SQL, StoreMemory, product_key
from store.models import Allowance, Order, OrderEvent, OrderItem, OrderStatus, Product, StockUnit

HOLD_FOR = timedelta(minutes=10)
SQL = Path(__file__).resolve().parent / "sql"
_TAKE_ALLOWANCE = read_sql(SQL / "take_allowance.sql")
_CLAIM_UNITS = read_sql(SQL / "claim_units.sql")
_HOLD_ONE = HOLD_ONE_SQL

# name, phone, province, city, district, street address, the district's code (or None)
Shipping = tuple[str, str, str, str, str, str, str | None]
NO_SHIPPING = (None,) * 7


@dataclass(frozen=True)
class Held:
    order: Order
    buyer_id: int


def _dialect() -> str:
    return str(connections.get("default").capabilities.dialect)


def single_statement(wanted: Mapping[int, int]) -> bool:
    """Whether this order can be held by store_hold (one product, on PostgreSQL)."""
    return len(wanted) == 1 and _dialect() == "postgres"


async def hold(
    *,
    buyer: User | str,
    wanted: Mapping[int, int],
    products: Mapping[int, Product],
    now: datetime,
    memory: StoreMemory,
    shipping: Shipping | None = None,
    shipping_fee_fen: int = 0,
    engine: str | None = None,
) -> Held:
    """Hold `wanted` (product id -> quantity) of `products` for `buyer` (a user, or the
    digest of a bearer token whose owner the statement finds) for HOLD_FOR: all or nothing.
    The order costs its goods and `shipping_fee_fen` (the caller's, from
    store.shipping.shipping_fee), and keeps where it ships.

    `engine` is "single" (store_hold: one product, PostgreSQL) or "portable"; by default the
    fastest that can. Raises Unauthorized or SessionEnded (a token), LimitExceeded, SoldOut.
    Sale rules (members, times, raffles) are the caller's: this only holds.
    """
    engine = engine or ("single" if single_statement(wanted) else "portable")
    try:
        held = await _hold(buyer, wanted, products, now, memory, shipping, shipping_fee_fen, engine)
    except DomainError as exc:
        metrics.HOLDS.labels(outcome=str(exc.code), engine=engine).inc()
        if isinstance(exc, SoldOut):
            metrics.SOLD_OUT_ANSWERS.labels(source="database").inc()
        raise
    metrics.HOLDS.labels(outcome="held", engine=engine).inc()
    return held


async def _hold(
    buyer: User | str,
    wanted: Mapping[int, int],
    products: Mapping[int, Product],
    now: datetime,
    memory: StoreMemory,
    shipping: Shipping | None,
    fee: int,
    engine: str,
) -> Held:
    if engine == "single":
        [(product_id, quantity)] = wanted.items()
        product = products[product_id]
        return await _hold_single(buyer, product, quantity, now, memory, shipping, fee)
    if isinstance(buyer, str):
        user = await accounts.user_for_token_digest(buyer, now=now, consented=True)
        if user is None:
            raise Unauthorized()
        buyer = user
    try:
        async with memory.admission:
            order = await _hold_portable(buyer, wanted, products, now, shipping, fee)
    except SoldOut:
        for product_id in wanted:
            left = await _any_free(product_id)
            if not left:
                memory.remember_sold_out(products[product_id])
        raise
    for product_id in wanted:
        memory.stock_came_back(products[product_id])
    return Held(order, buyer.id)


async def _any_free(product_id: int) -> bool:
    return await StockUnit.filter(product_id=product_id, order_id__isnull=True).exists()


async def _hold_portable(
    user: User,
    wanted: Mapping[int, int],
    products: Mapping[int, Product],
    now: datetime,
    shipping: Shipping | None,
    fee: int,
) -> Order:
    total = sum(products[pid].price_fen * quantity for pid, quantity in wanted.items()) + fee
    name, phone, province, city, district, address, code = shipping or NO_SHIPPING
    async with in_transaction() as connection:
        order = await Order.create(
            user_id=user.id,
            total_fen=total,
            shipping_fee_fen=fee,
            hold_expires_at=now + HOLD_FOR,
            created_at=now,
            ship_name=name,
            ship_phone=phone,
            ship_province=province,
            ship_city=city,
            ship_district=district,
            ship_address=address,
            ship_district_code=code,
        )
        for product_id, quantity in wanted.items():
            product = products[product_id]
            if product.per_customer_limit is not None:
                await take_allowance(connection, product, user, quantity)
            await claim_units(connection, order, product, quantity)
            await OrderItem.create(
                order_id=order.id,
                product_id=product_id,
                quantity=quantity,
                unit_price_fen=product.price_fen,
            )
        await OrderEvent.create(order_id=order.id, status=OrderStatus.PENDING_PAYMENT)
    return order


async def take_allowance(connection: Any, product: Product, user: User, quantity: int) -> None:
    """Raise `user`'s allowance of `product` by `quantity` (in the caller's transaction)."""
    sql = for_dialect(_TAKE_ALLOWANCE, connection.capabilities.dialect)
    # execute_query_dict fetches the RETURNING rows on every backend (Tortoise's asyncpg
    # execute_query reports an INSERT's OID field, always 0, as its row count).
    rows = await connection.execute_query_dict(
        sql, [product.id, user.id, quantity, product.per_customer_limit]
    )
    if not rows:
        raise LimitExceeded()


async def claim_units(connection: Any, order: Order, product: Product, quantity: int) -> None:
    """Claim `quantity` free units of `product` for `order` (in the caller's transaction)."""
    dialect = connection.capabilities.dialect
    sql = _CLAIM_UNITS.replace(
        "/* lock */", "FOR UPDATE SKIP LOCKED" if dialect == "postgres" else ""
    )
    claimed = await connection.execute_query_dict(
        for_dialect(sql, dialect), [order.id, product.id, quantity]
    )
    if len(claimed) != quantity:
        raise SoldOut(title=product.title)


async def reclaim(
    order: Order, user: User, wanted: Mapping[int, int], products: Mapping[int, Product]
) -> None:
    """Claim a released order's units (and allowance) again for it, inside the caller's
    transaction: a late payment for an order whose hold ran out. Raises LimitExceeded or
    SoldOut, and the caller's transaction undoes what was taken."""
    connection = connections.get("default")
    for product_id, quantity in wanted.items():
        product = products[product_id]
        if product.per_customer_limit is not None:
            await take_allowance(connection, product, user, quantity)
        await claim_units(connection, order, product, quantity)


async def give_back(
    order: Order, *, now: datetime, memory: StoreMemory | None, only_live: bool = False
) -> None:
    """An order's units go back on sale, and its buyer's allowance with them (in the caller's
    transaction). `only_live`: only of products whose sale has not ended (a refund)."""
    for item in await OrderItem.filter(order_id=order.id).select_related("product"):
        product = item.product
        if only_live and product.sale_ends_at is not None and now >= product.sale_ends_at:
            continue
        await StockUnit.filter(product_id=product.id, order_id=order.id).update(order_id=None)
        if memory is not None:
            memory.stock_came_back(product)
        if product.per_customer_limit is not None:
            # Invariant "per-customer limit": lowered by one guarded UPDATE in the database
            # ("units >= quantity", never below zero), so returns and holds of one customer
            # running at once cannot lose an update.
            await Allowance.filter(
                product_id=product.id,
                user_id=order.user_id,  # type: ignore[attr-defined]
                units__gte=item.quantity,
            ).update(units=F("units") - item.quantity)


async def _hold_single(
    buyer: User | str,
    product: Product,
    quantity: int,
    now: datetime,
    memory: StoreMemory,
    shipping: Shipping | None,
    fee: int,
) -> Held:
    expires = now + HOLD_FOR
    key = product_key(product)
    params = [
        buyer.id if isinstance(buyer, User) else None,
        buyer if isinstance(buyer, str) else None,
        now - accounts.TOKEN_TOUCH_INTERVAL,
        product.id,
        quantity,
        product.per_customer_limit,
        product.price_fen,
        now,
        expires,
        memory.claimed_up_to.get(key, 0),
        *(shipping or NO_SHIPPING),
        fee,
    ]
    connection = connections.get("default")
    if isinstance(connection, AsyncpgClient):
        row = await memory.hold_batch.run(connection, params)
    else:  # inside a caller's transaction
        [row] = await connection.execute_query_dict(_HOLD_ONE, params)
    outcome = row["outcome"]
    if outcome == "unauthorized":
        if isinstance(buyer, str):
            raise await accounts.refused_token(buyer, now=now)
        raise Unauthorized()
    if outcome == "limit_exceeded":
        raise LimitExceeded()
    if outcome == "sold_out":
        if not row["any_free"]:
            memory.remember_sold_out(product)
        raise SoldOut(title=product.title)
    memory.stock_came_back(product)
    if row["last_unit_id"] is not None:
        memory.claimed_up_to[key] = row["last_unit_id"]  # the next look starts past this claim
    order = from_row(
        Order,
        id=row["held_order_id"],
        user_id=row["buyer_id"],
        status=OrderStatus.PENDING_PAYMENT.value,
        total_fen=product.price_fen * quantity + fee,
        shipping_fee_fen=fee,
        hold_expires_at=expires,
        payment_id=None,
        ship_name=params[10],
        ship_phone=params[11],
        ship_province=params[12],
        ship_city=params[13],
        ship_district=params[14],
        ship_address=params[15],
        ship_district_code=params[16],
        tracking_number=None,
        carrier=None,
        shipped_at=None,
        created_at=now,
        paid_at=None,
    )
    return Held(order, row["buyer_id"])
