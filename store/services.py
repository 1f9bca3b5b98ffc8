"""Store's rules: the catalog, drops with their limits, orders that hold stock while paid for."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from tortoise import connections
from tortoise.expressions import F
from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from accounts import services as accounts
from accounts.errors import SessionEnded, Unauthorized
from accounts.models import User
from db import AsyncpgClient
from errors import DomainError, RateLimited, ValidationError
from membership.services import is_member
from payments import services as payments
from payments.models import Payment, PaymentStatus
from payments.provider import StripeProvider
from ratelimit import Counter, Limit, seconds_left
from store.errors import (
    BadOrderState,
    Ended,
    HoldExpired,
    LimitExceeded,
    MembersOnly,
    NotARaffle,
    NotAWinner,
    NotStarted,
    OrderNotFound,
    OrderPaid,
    ProductNotFound,
    RaffleClosed,
    SoldOut,
)
from store.images import resize_upload, store_product_image
from store.models import (
    Allowance,
    Category,
    DropReminder,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    Product,
    RaffleEntry,
    StockUnit,
)

PAYMENT_PURPOSE = "order"
log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLD_FOR = timedelta(minutes=10)
NEW_FOR = timedelta(days=7)
HOT_WINDOW = timedelta(days=7)
MAX_STOCK = 100_000
MAX_PRICE_FEN = 10_000_000
MAX_ITEMS = 20
# Buy requests per account: generous for a person, tight for a script. Per account, not per
# address, so a crowd behind one carrier NAT address still gets through.
BUY_REQUESTS = Limit(attempts=10, window_seconds=10)
SOLD_STATUSES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


# --- catalog ------------------------------------------------------------------------------


def _whole(field: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(field, f"must be a whole number from {low} to {high}")
    return value


async def category_named(name: str) -> Category:
    """The category called `name`, created on first use (admins name categories freely)."""
    clean = " ".join(str(name).split())
    if not clean or len(clean) > 40:
        raise ValidationError("category", "must be 1 to 40 characters")
    category, _ = await Category.get_or_create(name=clean)
    return category


async def create_product(
    *,
    title: str,
    description: str,
    category: str,
    price_fen: int,
    stock: int,
    per_customer_limit: int | None = None,
    members_only: bool = False,
    member_head_start_minutes: int = 0,
    sale_starts_at: datetime | None = None,
    sale_ends_at: datetime | None = None,
    raffle_entries_until: datetime | None = None,
    raffle_purchase_minutes: int = 60,
) -> Product:
    """A product and its stock units. Raises ValidationError naming the field."""
    clean_title = " ".join(str(title).split())
    if not clean_title or len(clean_title) > 120:
        raise ValidationError("title", "must be 1 to 120 characters")
    if len(description) > 5000:
        raise ValidationError("description", "must be at most 5000 characters")
    _whole("price_fen", price_fen, 1, MAX_PRICE_FEN)
    _whole("stock", stock, 0, MAX_STOCK)
    if per_customer_limit is not None:
        _whole("per_customer_limit", per_customer_limit, 1, MAX_STOCK)
    _whole("member_head_start_minutes", member_head_start_minutes, 0, 7 * 24 * 60)
    if sale_starts_at and sale_ends_at and sale_ends_at <= sale_starts_at:
        raise ValidationError("sale_ends_at", "must be after sale_starts_at")
    _whole("raffle_purchase_minutes", raffle_purchase_minutes, 1, 7 * 24 * 60)
    async with in_transaction():
        product = await Product.create(
            title=clean_title,
            description=description,
            category=await category_named(category),
            price_fen=price_fen,
            stock=stock,
            per_customer_limit=per_customer_limit,
            members_only=members_only,
            member_head_start_minutes=member_head_start_minutes,
            sale_starts_at=sale_starts_at,
            sale_ends_at=sale_ends_at,
            raffle_entries_until=raffle_entries_until,
            raffle_purchase_minutes=raffle_purchase_minutes,
        )
        await StockUnit.bulk_create(
            [StockUnit(product_id=product.id, number=n) for n in range(1, stock + 1)],
            batch_size=2000,
        )
    return product


async def get_product(product_id: int) -> Product:
    product = await Product.get_or_none(id=product_id).select_related("category")
    if product is None:
        raise ProductNotFound()
    return product


async def stock_left_of(products: list[Product]) -> dict[int, int]:
    """Units left of each product, in one query (listings show many products at once)."""
    rows = (
        await StockUnit.filter(product_id__in=[p.id for p in products], order_id__isnull=True)
        .annotate(left=Count("id"))
        .group_by("product_id")
        .values("product_id", "left")
    )
    left = {row["product_id"]: row["left"] for row in rows}
    return {p.id: left.get(p.id, 0) for p in products}


async def stock_left(product: Product) -> int:
    return await StockUnit.filter(product_id=product.id, order_id__isnull=True).count()


async def list_products(
    *,
    now: datetime,
    category: str | None = None,
    sort: str = "new",
    limit: int = 30,
    cursor: int = 0,
) -> tuple[list[Product], int | None]:
    """Products newest first ("new") or by units paid in the last 7 days ("hot"); offset cursor."""
    query = Product.all().select_related("category")
    if category:
        query = query.filter(category__name=category)
    if sort == "hot":
        since = now - HOT_WINDOW
        sold = (
            await OrderItem.filter(order__status__in=list(SOLD_STATUSES), order__paid_at__gte=since)
            .annotate(units=Sum("quantity"))
            .group_by("product_id")
            .values("product_id", "units")
        )
        heat = {row["product_id"]: row["units"] or 0 for row in sold}
        products = sorted(await query, key=lambda p: (-heat.get(p.id, 0), -p.id))
    else:
        products = await query.order_by("-created_at", "-id")
    page = products[cursor : cursor + limit]
    next_cursor = cursor + limit if len(products) > cursor + limit else None
    return page, next_cursor


# --- the sale window, members and limits ---------------------------------------------------


def sale_opens_for(product: Product, user: User, now: datetime) -> datetime | None:
    """When this person may start buying: members get the head start."""
    if product.sale_starts_at is None:
        return None
    if product.member_head_start_minutes and is_member(user, at=now):
        return product.sale_starts_at - timedelta(minutes=product.member_head_start_minutes)
    return product.sale_starts_at


def check_can_buy(product: Product, user: User, now: datetime, *, winner: bool = False) -> None:
    """Raises MembersOnly, NotStarted, Ended, or NotAWinner for a raffle drop."""
    if product.members_only and not is_member(user, at=now):
        raise MembersOnly()
    if product.raffle_entries_until is not None:
        if product.raffle_drawn_at is None:
            raise NotStarted("The raffle has not been drawn yet.")
        if now >= product.raffle_drawn_at + timedelta(minutes=product.raffle_purchase_minutes):
            raise Ended("The winners' time to buy has ended.")
        if not winner:
            raise NotAWinner()
        return
    opens = sale_opens_for(product, user, now)
    if opens is not None and now < opens:
        raise NotStarted()
    if product.sale_ends_at is not None and now >= product.sale_ends_at:
        raise Ended()


# Products this worker saw sold out, until a monotonic time: the late crowd of a drop is
# answered without touching the database; a unit returned elsewhere shows up within a second.
SOLD_OUT_MEMORY_SECONDS = 1.0
_sold_out_until: dict[tuple[int, float], float] = {}


def _product_key(product: Product) -> tuple[int, float]:
    return (product.id, product.created_at.timestamp())


# Products as orders read them, kept per worker for PRODUCT_MEMORY_SECONDS: a rush asks for the
# same product thousands of times a second. Stock is never read from here (units are claimed in
# the database); what is (price, sale times, limits, the raffle) changes rarely, and the worker
# that changes a product forgets it at once; other workers see the change within that second.
# When a product's second is up, one order reads it again while the others go on with the
# copy they have (no stampede of identical reads in the middle of a rush).
PRODUCT_MEMORY_SECONDS = 1.0
_products: dict[int, tuple[float, Product, tuple[int, float]]] = {}  # until, product, key
_reading: set[int] = set()  # products an order of this worker is reading now


async def _products_for_order(product_ids: list[int]) -> dict[int, Product]:
    now = time.monotonic()
    found: dict[int, Product] = {}
    missing = []
    for product_id in product_ids:
        kept = _products.get(product_id)
        if kept is not None and (kept[0] > now or product_id in _reading):
            found[product_id] = kept[1]
        else:
            missing.append(product_id)
    if missing:
        _reading.update(missing)
        try:
            for product in await Product.filter(id__in=missing):
                _products[product.id] = (
                    now + PRODUCT_MEMORY_SECONDS,
                    product,
                    _product_key(product),
                )
                found[product.id] = product
        finally:
            _reading.difference_update(missing)
    return found


def forget_cached(product_id: int | None = None) -> None:
    """Drop what this worker remembers about a product (all products when None)."""
    if product_id is None:
        _products.clear()
        _sold_out_until.clear()
        _claimed_up_to.clear()
        return
    _products.pop(product_id, None)
    for key in [key for key in _sold_out_until if key[0] == product_id]:
        _sold_out_until.pop(key, None)
    for key in [key for key in _claimed_up_to if key[0] == product_id]:
        _claimed_up_to.pop(key, None)


def known_sold_out(product_ids: list[int]) -> str | None:
    """The title of a product this worker saw sold out within the last second, if any of
    `product_ids` is one: answered from memory, before anything else (no database, and no
    need to know who asks: whether a drop is sold out is public). Call it before placing an
    order: when the memory has just lapsed, this caller is let through to look in the
    database again while everyone else keeps hearing "sold out" for another second (one look
    per second and worker, not a stampede)."""
    clock = time.monotonic()
    for product_id in product_ids:
        kept = _products.get(product_id)
        if kept is None:
            continue
        key = kept[2]
        until = _sold_out_until.get(key)
        if until is None:
            continue
        if until > clock:
            return kept[1].title
        if clock - until < SOLD_OUT_MEMORY_SECONDS:
            _sold_out_until[key] = clock + SOLD_OUT_MEMORY_SECONDS  # this caller looks again
        else:
            del _sold_out_until[key]  # long lapsed (nobody asked for a while): forgotten
    return None


def _remember_sold_out(product: Product) -> None:
    _sold_out_until[_product_key(product)] = time.monotonic() + SOLD_OUT_MEMORY_SECONDS


# Admission: at most this many orders per worker are inside the database at once; the rest of
# a crowd waits here, cheaply, instead of piling up on the database's locks and connections
# (PostgreSQL's single-product holds are bounded by their batches instead, below).
ADMISSION = 8
_admission = asyncio.Semaphore(ADMISSION)


# --- orders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wanted:
    product_id: int
    quantity: int


def _merged(items: list[Wanted]) -> dict[int, int]:
    """Quantities by product; raises ValidationError for an empty or oversized order."""
    if not items or len(items) > MAX_ITEMS:
        raise ValidationError("items", f"must list 1 to {MAX_ITEMS} products")
    merged: dict[int, int] = {}
    for item in items:
        _whole("quantity", item.quantity, 1, 100)
        merged[item.product_id] = merged.get(item.product_id, 0) + item.quantity
    return merged


async def _hit_buy_limit(counter: Counter, key: str) -> None:
    hits = await counter.hit(key, BUY_REQUESTS)
    if hits > BUY_REQUESTS.attempts:
        raise RateLimited(seconds_left(BUY_REQUESTS), "Too many tries at once; wait a moment.")


def _on_postgres() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


def open_to_everyone(product: Product, now: datetime) -> bool:
    """Whether anyone signed in may buy `product` at `now`: on sale for all (past any member
    head start), not ended, not members-only, not sold by raffle."""
    return (
        not product.members_only
        and product.raffle_entries_until is None
        and (product.sale_starts_at is None or now >= product.sale_starts_at)
        and (product.sale_ends_at is None or now < product.sale_ends_at)
    )


async def place_order(*, user: User, items: list[Wanted], now: datetime, counter: Counter) -> Order:
    """An order holding its units for HOLD_FOR while the shopper pays.

    All or nothing: every item's units are claimed in one transaction or none are. Raises
    RateLimited, ValidationError, ProductNotFound, MembersOnly, NotStarted, Ended,
    LimitExceeded, SoldOut.
    """
    await _hit_buy_limit(counter, f"buy:{user.id}")
    merged = _merged(items)
    products = await _products_for_order(list(merged))
    for product_id in merged:
        if product_id not in products:
            raise ProductNotFound(f"No product {product_id}.")
    winners: set[int] = set()
    if any(p.raffle_entries_until is not None for p in products.values()):
        won = await RaffleEntry.filter(product_id__in=list(merged), user_id=user.id, won=True)
        winners = {entry.product_id for entry in won}  # type: ignore[attr-defined]
    for product_id, quantity in merged.items():
        product = products[product_id]
        check_can_buy(product, user, now, winner=product_id in winners)
        if product.per_customer_limit is not None and quantity > product.per_customer_limit:
            raise LimitExceeded()
    if len(merged) == 1 and _on_postgres():
        [(product_id, quantity)] = merged.items()
        order, _ = await _hold_one_postgres(products[product_id], quantity, now, user_id=user.id)
        return order
    try:
        async with _admission:
            order = await _hold(user, merged, products, now)
        for product_id in merged:
            _sold_out_until.pop(_product_key(products[product_id]), None)
        return order
    except SoldOut:
        for product_id in merged:
            if not await StockUnit.filter(product_id=product_id, order_id__isnull=True).exists():
                _remember_sold_out(products[product_id])
        raise


async def place_order_for_token(
    *, token: str, items: list[Wanted], now: datetime, counter: Counter
) -> Order:
    """place_order for the owner of a bearer token (the API's buy button).

    A drop open to everyone (the rush) is ordered in one database round trip: the token's
    owner is found by the same statement that holds the units. The buy limit counts per token
    first (no database needed to refuse a flood) and then per account, once the statement has
    named it: an account over its limit through several tokens has that order cancelled at
    once. Anything else (members-only, a head start, a raffle, several products, SQLite)
    looks the token's owner up first and goes through place_order. Raises Unauthorized for an
    unknown or revoked token, and what place_order raises.
    """
    merged = _merged(items)
    if len(merged) == 1 and _on_postgres():
        [(product_id, quantity)] = merged.items()
        products = await _products_for_order([product_id])
        product = products.get(product_id)
        if product is not None and open_to_everyone(product, now):
            digest = accounts.token_digest(token)
            await _hit_buy_limit(counter, f"buy-token:{digest}")
            order, user_id = await _hold_one_postgres(product, quantity, now, token_digest=digest)
            try:
                await _hit_buy_limit(counter, f"buy:{user_id}")
            except RateLimited:
                await _cancel(order, now=now, note="buy limit")
                raise
            return order
    user = await accounts.user_for_token(token, now=now)
    if user is None:
        raise Unauthorized()
    return await place_order(user=user, items=items, now=now, counter=counter)


async def _hold(
    user: User, wanted: dict[int, int], products: dict[int, Product], now: datetime
) -> Order:
    total = sum(products[pid].price_fen * quantity for pid, quantity in wanted.items())
    async with in_transaction() as connection:
        order = await Order.create(user_id=user.id, total_fen=total, hold_expires_at=now + HOLD_FOR)
        postgres = connection.capabilities.dialect == "postgres"
        for product_id, quantity in wanted.items():
            product = products[product_id]
            if product.per_customer_limit is not None:
                await _take_allowance(connection, product, user, quantity, postgres)
            await _claim_units(connection, order, product, quantity, postgres)
            await OrderItem.create(
                order_id=order.id,
                product_id=product_id,
                quantity=quantity,
                unit_price_fen=product.price_fen,
            )
        await OrderEvent.create(order_id=order.id, status=OrderStatus.PENDING_PAYMENT)
    return order


# The usual order, one product, on PostgreSQL: the function store_hold (migration store/0007,
# where its invariants are written) finds the buyer, takes the allowance, claims the units and
# writes the order, its item and its first history entry in one statement.
_HOLD_ONE_POSTGRES = "SELECT * FROM store_hold($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"

# Per worker and product: the unit id this worker claimed last (where its next look starts).
_claimed_up_to: dict[tuple[int, float], int] = {}

# Holds waiting for the database, per worker. Under a crowd they go in batches: up to
# HOLD_BATCH holds in one statement (store_hold_many, migration store/0008), one round trip and
# one commit, with at most HOLD_BATCHES_AT_ONCE batches in the database per worker (the
# admission bound: the rest of a crowd waits here, cheaply). Alone, a hold goes at once and by
# itself, so a quiet store adds no wait. A batch's holds are sorted by product and buyer, so two
# batches take allowance rows in the same order; if they deadlock anyway (one account ordering
# through two tokens in two workers at once), each hold of the batch is tried alone.
HOLD_BATCH = 16
HOLD_BATCHES_AT_ONCE = 2
_HOLD_MANY_POSTGRES = "SELECT * FROM store_hold_many($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
_waiting_holds: list[tuple[list[Any], asyncio.Future[Mapping[str, Any]]]] = []
_batch_runners: set[asyncio.Task[None]] = set()


async def _hold_in_a_batch(connection: AsyncpgClient, params: list[Any]) -> Mapping[str, Any]:
    """store_hold's answer row for `params`, held alone or in a batch with others waiting."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Mapping[str, Any]] = loop.create_future()
    _waiting_holds.append((params, answer))
    # A runner is done the moment it has found nothing waiting (no await between its last look
    # and its end), so counting the ones not done never misses a hold.
    running = sum(1 for r in _batch_runners if r.get_loop() is loop and not r.done())
    if running < HOLD_BATCHES_AT_ONCE:
        runner = loop.create_task(_run_hold_batches(connection))
        _batch_runners.add(runner)  # a reference, so the running task is not collected
        runner.add_done_callback(_batch_runners.discard)
    return await answer


async def _run_hold_batches(connection: AsyncpgClient) -> None:
    while _waiting_holds:
        batch = [
            (params, answer) for params, answer in _waiting_holds[:HOLD_BATCH] if not answer.done()
        ]
        del _waiting_holds[:HOLD_BATCH]
        if not batch:
            continue  # every caller of these went away before their turn
        # By product, then buyer (user id, or token digest): params [3], [0] and [1].
        batch.sort(key=lambda waiting: (waiting[0][3], waiting[0][0] or 0, waiting[0][1] or ""))
        try:
            rows = await _hold_batch(connection, [params for params, _ in batch])
        except Exception as exc:
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            continue
        for (_, answer), row in zip(batch, rows, strict=True):
            if not answer.done():
                answer.set_result(row)


async def _hold_batch(connection: AsyncpgClient, batch: list[list[Any]]) -> list[Mapping[str, Any]]:
    if len(batch) > 1:
        try:
            columns = [list(column) for column in zip(*batch, strict=True)]
            return await connection.fetch_rows(_HOLD_MANY_POSTGRES, columns)
        except asyncpg.DeadlockDetectedError:
            # Rolled back whole; each of its holds is tried alone below.
            log.warning("a batch of %d holds deadlocked; holding them one by one", len(batch))
    rows = []
    for params in batch:
        row = await connection.fetch_row(_HOLD_ONE_POSTGRES, params)
        if row is None:
            raise RuntimeError("store_hold answered no row")  # it always answers one
        rows.append(row)
    return rows


async def _hold_one_postgres(
    product: Product,
    quantity: int,
    now: datetime,
    *,
    user_id: int | None = None,
    token_digest: str | None = None,
) -> tuple[Order, int]:
    """Hold `quantity` units of `product` for `user_id`, or for the owner of the bearer token
    whose digest is `token_digest`; returns
    the order and its buyer's id. Raises Unauthorized, LimitExceeded or SoldOut."""
    expires = now + HOLD_FOR
    key = _product_key(product)
    params = [
        user_id,
        token_digest,
        now - accounts.TOKEN_TOUCH_INTERVAL,
        product.id,
        quantity,
        product.per_customer_limit,
        product.price_fen,
        now,
        expires,
        _claimed_up_to.get(key, 0),
    ]
    connection = connections.get("default")
    if isinstance(connection, AsyncpgClient):
        row = await _hold_in_a_batch(connection, params)
    else:  # inside a caller's transaction
        [row] = await connection.execute_query_dict(_HOLD_ONE_POSTGRES, params)
    outcome = row["outcome"]
    if outcome == "unauthorized":
        if token_digest is not None and await accounts.token_was_ended(token_digest):
            raise SessionEnded()
        raise Unauthorized()
    if outcome == "limit_exceeded":
        raise LimitExceeded()
    if outcome == "sold_out":
        if not row["any_free"]:
            _remember_sold_out(product)
        raise SoldOut(f"“{product.title}” is sold out.")
    _sold_out_until.pop(key, None)
    if row["last_unit_id"] is not None:
        _claimed_up_to[key] = row["last_unit_id"]  # the next look starts past this claim
    # The row the statement wrote, built as the ORM builds rows it reads (Model.__init__ cost
    # a tenth of a rush's CPU in the profile).
    order = Order._init_from_db(
        id=row["held_order_id"],
        user_id=row["buyer_id"],
        status=OrderStatus.PENDING_PAYMENT.value,
        total_fen=product.price_fen * quantity,
        hold_expires_at=expires,
        payment_id=None,
        ship_name=None,
        ship_phone=None,
        ship_address=None,
        tracking_number=None,
        created_at=now,
        paid_at=None,
    )
    return order, row["buyer_id"]


async def _take_allowance(
    connection: object, product: Product, user: User, quantity: int, postgres: bool
) -> None:
    # Invariant "per-customer limit": the upsert only raises units while units + quantity stays
    # within the limit; the row lock makes one customer's concurrent requests take turns.
    p = [f"${n}" if postgres else "?" for n in range(1, 5)]
    values = ", ".join(p[:3])
    # Only placeholders are formatted into the SQL; every value is a parameter.
    sql = (
        f"INSERT INTO store_allowance (product_id, user_id, units) VALUES ({values}) "  # nosec B608
        f"ON CONFLICT (product_id, user_id) DO UPDATE SET units = store_allowance.units + "
        f"excluded.units WHERE store_allowance.units + excluded.units <= {p[3]} RETURNING units"
    )
    # execute_query_dict fetches the RETURNING rows on every backend (Tortoise's asyncpg
    # execute_query reports an INSERT's OID field, always 0, as its row count).
    rows = await connection.execute_query_dict(  # type: ignore[attr-defined]
        sql, [product.id, user.id, quantity, product.per_customer_limit]
    )
    if not rows:
        raise LimitExceeded()


async def _claim_units(
    connection: object, order: Order, product: Product, quantity: int, postgres: bool
) -> None:
    # Invariant "never oversell": a unit row is claimed by one order only (order_id IS NULL in
    # the same statement); fewer rows than wanted means sold out, and the transaction rolls back.
    if postgres:
        sql = (
            "UPDATE store_unit SET order_id = $1 WHERE id = ANY(ARRAY(SELECT id FROM store_unit "
            "WHERE product_id = $2 AND order_id IS NULL ORDER BY id LIMIT $3 "
            "FOR UPDATE SKIP LOCKED)) AND order_id IS NULL"
        )
    else:
        sql = (
            "UPDATE store_unit SET order_id = ? WHERE id IN (SELECT id FROM store_unit "
            "WHERE product_id = ? AND order_id IS NULL ORDER BY id LIMIT ?) AND order_id IS NULL"
        )
    count, _ = await connection.execute_query(sql, [order.id, product.id, quantity])  # type: ignore[attr-defined]
    if count != quantity:
        raise SoldOut(f"“{product.title}” is sold out.")


async def order_for_user(order_id: int, user: User) -> Order:
    order = await Order.get_or_none(id=order_id, user_id=user.id)
    if order is None:
        raise OrderNotFound()
    return order


async def order_items(order: Order) -> list[OrderItem]:
    return await OrderItem.filter(order_id=order.id).select_related("product")


PHONE_DIGITS = 11


def check_shipping(name: str, phone: str, address: str) -> tuple[str, str, str]:
    """Mainland China: a mobile number 1[3-9]xxxxxxxxx (+86 allowed), an address with content."""
    clean_name = " ".join(name.split())
    if not clean_name or len(clean_name) > 40:
        raise ValidationError("ship_name", "must be 1 to 40 characters")
    digits = phone.replace(" ", "").replace("-", "").removeprefix("+86")
    if len(digits) != PHONE_DIGITS or not digits.isdigit() or digits[0] != "1" or digits[1] < "3":
        raise ValidationError("ship_phone", "must be a mainland mobile number, e.g. 13812345678")
    clean_address = " ".join(address.split())
    if not 5 <= len(clean_address) <= 200:
        raise ValidationError("ship_address", "must be 5 to 200 characters")
    return clean_name, digits, clean_address


async def set_shipping(order: Order, *, name: str, phone: str, address: str) -> Order:
    order.ship_name, order.ship_phone, order.ship_address = check_shipping(name, phone, address)
    await order.save(update_fields=["ship_name", "ship_phone", "ship_address"])
    return order


async def pay_order(
    *, provider: StripeProvider, order_id: int, user: User, payment_method: str, now: datetime
) -> payments.PaymentResult:
    """Pay for a held order. Raises OrderNotFound, OrderPaid, HoldExpired and what
    payments.pay raises."""
    order = await order_for_user(order_id, user)
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise OrderPaid() if order.status in SOLD_STATUSES else HoldExpired()
    if order.hold_expires_at <= now:
        raise HoldExpired()
    result = await payments.pay(
        provider=provider,
        user_id=user.id,
        purpose=PAYMENT_PURPOSE,
        subject_id=str(order.id),
        amount_fen=order.total_fen,
        payment_method=payment_method,
        now=now,
    )
    await Order.filter(id=order.id).update(payment_id=result.payment.id)
    return result


async def last_payment_failure(order: Order) -> str | None:
    """Why the order's latest payment failed, if it did (the order stays held meanwhile)."""
    if order.payment_id is None:
        return None
    payment = await Payment.get_or_none(id=order.payment_id)
    if payment is None or payment.status != PaymentStatus.FAILED:
        return None
    return payment.failure_message or "The payment failed."


async def _move(order_id: int, to: OrderStatus, *, frm: list[OrderStatus], note: str = "") -> bool:
    moved = await Order.filter(id=order_id, status__in=frm).update(status=to)
    if moved:
        await OrderEvent.create(order_id=order_id, status=to, note=note)
    return bool(moved)


async def _return_stock(order: Order, *, now: datetime, only_live: bool = False) -> None:
    """Give an order's units back, and the buyer's allowance with them."""
    for item in await OrderItem.filter(order_id=order.id).select_related("product"):
        product = item.product
        if only_live and product.sale_ends_at is not None and now >= product.sale_ends_at:
            continue
        await StockUnit.filter(product_id=product.id, order_id=order.id).update(order_id=None)
        _sold_out_until.pop(_product_key(product), None)
        if product.per_customer_limit is not None:
            # Invariant "per-customer limit": lowered in the database, never below zero, so
            # concurrent returns and holds of one customer cannot lose an update.
            await Allowance.filter(
                product_id=product.id,
                user_id=order.user_id,  # type: ignore[attr-defined]
                units__gte=item.quantity,
            ).update(units=F("units") - item.quantity)


async def _cancel(order: Order, *, now: datetime, note: str) -> bool:
    async with in_transaction():
        if not await _move(
            order.id, OrderStatus.CANCELLED, frm=[OrderStatus.PENDING_PAYMENT], note=note
        ):
            return False
        await _return_stock(order, now=now)
    return True


async def release_expired_orders(*, provider: StripeProvider, now: datetime) -> int:
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
        released += await _cancel(order, now=now, note="hold expired")
    return released


async def cancel_order(
    *, provider: StripeProvider, order_id: int, user: User, now: datetime
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
    await _cancel(order, now=now, note="cancelled by the buyer")
    order = await Order.get(id=order.id)
    if order.status != OrderStatus.CANCELLED:
        raise OrderPaid()  # paid in the meantime
    return order


async def _fulfil(payment: Payment, now: datetime) -> payments.Fulfilment:
    """The order of a succeeded payment is paid. One that was released meanwhile (its hold
    expired, its buyer cancelled) is taken again if the sale is still on for the buyer, the
    per-customer limit allows and the units are there; otherwise the payment is refused and
    refunded. The buyer is told which of the two happened."""
    order = await Order.get_or_none(id=int(payment.subject_id))
    if order is None:
        return payments.Fulfilment.REFUSED
    if order.status == OrderStatus.PENDING_PAYMENT and await _move(
        order.id, OrderStatus.PAID, frm=[OrderStatus.PENDING_PAYMENT]
    ):
        await Order.filter(id=order.id).update(paid_at=now, payment_id=payment.id)
        await accounts.notify(
            order.user_id,  # type: ignore[attr-defined]
            kind="order_paid",
            message=f"订单 #{order.id} 已支付，我们会尽快发货。"
            f" Order #{order.id} is paid; it ships soon.",
            link=f"/store/orders/{order.id}",
        )
        return payments.Fulfilment.FULFILLED
    order = await Order.get(id=order.id)
    if order.status != OrderStatus.CANCELLED:  # paid (by this payment, or by another one)
        paid_by_this = order.payment_id == payment.id
        return payments.Fulfilment.FULFILLED if paid_by_this else payments.Fulfilment.REFUSED
    if not await _take_again(order, now=now):
        return payments.Fulfilment.REFUSED
    await Order.filter(id=order.id).update(paid_at=now, payment_id=payment.id)
    await accounts.notify(
        order.user_id,  # type: ignore[attr-defined]
        kind="order_paid_late",
        message=f"订单 #{order.id} 的付款在订单取消后才到账；商品仍有货，订单已恢复并支付。"
        f" The payment for order #{order.id} arrived after it was cancelled; the items were"
        " still there, so the order is back and paid.",
        link=f"/store/orders/{order.id}",
    )
    return payments.Fulfilment.FULFILLED


async def _take_again(order: Order, *, now: datetime) -> bool:
    """Hold a cancelled order's units again and mark it paid, all or nothing."""
    user = await User.get(id=order.user_id)  # type: ignore[attr-defined]
    items = await OrderItem.filter(order_id=order.id).select_related("product")
    winners = {
        entry.product_id  # type: ignore[attr-defined]
        for entry in await RaffleEntry.filter(
            product_id__in=[item.product.id for item in items], user_id=user.id, won=True
        )
    }
    try:
        for item in items:
            check_can_buy(item.product, user, now, winner=item.product.id in winners)
        async with in_transaction() as connection:  # a savepoint: a short claim undoes it all
            postgres = connection.capabilities.dialect == "postgres"
            for item in items:
                if item.product.per_customer_limit is not None:
                    await _take_allowance(connection, item.product, user, item.quantity, postgres)
                await _claim_units(connection, order, item.product, item.quantity, postgres)
            if not await _move(
                order.id, OrderStatus.PAID, frm=[OrderStatus.CANCELLED], note="paid late"
            ):
                raise BadOrderState()
    except DomainError:
        return False
    return True


async def _on_payment_refused(payment: Payment) -> None:
    order = await Order.get_or_none(id=int(payment.subject_id))
    if order is None:
        return
    await accounts.notify(
        order.user_id,  # type: ignore[attr-defined]
        kind="order_refunded_late",
        message=f"订单 #{order.id} 的付款在订单取消后才到账，商品已无法保留，款项已全额退回。"
        f" The payment for order #{order.id} arrived after it was cancelled and the items"
        " could not be kept; the money has been refunded in full.",
        link=f"/store/orders/{order.id}",
    )


async def _on_payment_failed(payment: Payment) -> None:
    # The order keeps its units: the buyer may pay again until the hold runs out.
    await OrderEvent.create(
        order_id=int(payment.subject_id),
        status=OrderStatus.PENDING_PAYMENT,
        note=f"payment failed: {payment.failure_code or 'failed'}"[:200],
    )


async def _on_payment_refunded(payment: Payment, amount_fen: int) -> None:
    if payment.status != PaymentStatus.REFUNDED:
        return
    order = await Order.get_or_none(id=int(payment.subject_id))
    if order is None:
        return
    async with in_transaction():
        if await _move(order.id, OrderStatus.REFUNDED, frm=list(SOLD_STATUSES), note="refunded"):
            await _return_stock(order, now=payment.updated_at, only_live=True)


payments.register_purpose(
    PAYMENT_PURPOSE,
    payments.PurposeHandlers(
        fulfil=_fulfil,
        on_refused=_on_payment_refused,
        on_failed=_on_payment_failed,
        on_refunded=_on_payment_refunded,
    ),
)


async def refund_order(*, provider: StripeProvider, order_id: int, now: datetime) -> Order:
    """Refund a paid order in full: money back through payments, stock back if the drop is live."""
    order = await Order.get_or_none(id=order_id)
    if order is None or order.payment_id is None or order.status not in SOLD_STATUSES:
        raise (
            OrderNotFound()
            if order is None
            else BadOrderState("Only a paid order can be refunded.")
        )
    await payments.refund(provider=provider, payment_id=order.payment_id, now=now)
    return await Order.get(id=order.id)


async def mark_shipped(*, order_id: int, tracking_number: str) -> Order:
    tracking = tracking_number.strip()
    if not 4 <= len(tracking) <= 40:
        raise ValidationError("tracking_number", "must be 4 to 40 characters")
    async with in_transaction():
        # The order moves first: a refused ship changes nothing, not even the tracking number.
        if not await _move(order_id, OrderStatus.SHIPPED, frm=[OrderStatus.PAID], note=tracking):
            raise BadOrderState("Only a paid order can be shipped.")
        await Order.filter(id=order_id).update(tracking_number=tracking)
    return await Order.get(id=order_id)


async def mark_delivered(*, order_id: int) -> Order:
    if not await _move(order_id, OrderStatus.DELIVERED, frm=[OrderStatus.SHIPPED]):
        raise BadOrderState("Only a shipped order can be delivered.")
    return await Order.get(id=order_id)


async def remind_me(*, product_id: int, user: User, now: datetime) -> bool:
    """Ask to be told when a drop opens; False if it is already open (nothing to wait for)."""
    product = await get_product(product_id)
    opens = sale_opens_for(product, user, now)
    if opens is None or opens <= now:
        return False
    await DropReminder.get_or_create(product_id=product.id, user_id=user.id)
    return True


async def send_drop_reminders(*, now: datetime) -> int:
    """Tell everyone waiting for a drop that opened (for them: members with a head start first)."""
    sent = 0
    for reminder in await DropReminder.filter(notified_at__isnull=True).select_related(
        "product", "user"
    ):
        opens = sale_opens_for(reminder.product, reminder.user, now)
        if opens is not None and opens > now:
            continue
        claimed = await DropReminder.filter(id=reminder.id, notified_at__isnull=True).update(
            notified_at=now
        )
        if claimed:
            await accounts.notify(
                reminder.user.id,
                kind="drop_open",
                message=f"“{reminder.product.title}”开售了。"
                f" “{reminder.product.title}” is on sale now.",
                link=f"/store/products/{reminder.product.id}",
            )
            sent += 1
    return sent


async def set_product_image(*, product_id: int, data: bytes, media_dir: Path) -> Product:
    """Store an uploaded picture for a product (resized); raises ValidationError("image")."""
    resized = resize_upload(data)  # checked before anything is written
    product = await get_product(product_id)
    product.image = store_product_image(media_dir, product.id, resized)
    await product.save(update_fields=["image"])
    forget_cached(product.id)
    return product


async def enter_raffle(*, product_id: int, user: User, now: datetime) -> int:
    """Enter a raffle drop during its entry period; returns how many have entered.

    Entering twice is harmless. Raises ProductNotFound, NotARaffle, RaffleClosed, MembersOnly.
    """
    product = await get_product(product_id)
    if product.raffle_entries_until is None:
        raise NotARaffle()
    if now >= product.raffle_entries_until or product.raffle_drawn_at is not None:
        raise RaffleClosed()
    if product.members_only and not is_member(user, at=now):
        raise MembersOnly()
    await RaffleEntry.get_or_create(product_id=product.id, user_id=user.id)
    return await RaffleEntry.filter(product_id=product.id).count()


@dataclass(frozen=True)
class Draw:
    seed: str
    entries: int
    winners: list[int]  # user ids


def pick_winners(entrant_ids: list[int], *, places: int, seed: str) -> list[int]:
    """The draw itself: the same seed and entrants always give the same winners (auditable)."""
    ordered = sorted(entrant_ids)
    return sorted(random.Random(seed).sample(ordered, k=min(places, len(ordered))))  # nosec B311  # a reproducible draw from a recorded secrets seed


async def draw_raffle(*, product_id: int, now: datetime, seed: str | None = None) -> Draw:
    """Draw a raffle once its entries closed: as many winners as the stock allows at the
    per-customer limit, with a recorded seed; winners are told in their inbox.

    Raises ProductNotFound, NotARaffle, NotStarted (entries still open), RaffleClosed (drawn).
    """
    product = await get_product(product_id)
    if product.raffle_entries_until is None:
        raise NotARaffle()
    if now < product.raffle_entries_until:
        raise NotStarted("Raffle entries are still open.")
    seed = seed or secrets.token_hex(16)
    claimed = await Product.filter(id=product.id, raffle_drawn_at__isnull=True).update(
        raffle_drawn_at=now, raffle_seed=seed
    )
    if not claimed:
        raise RaffleClosed("The raffle has already been drawn.")
    forget_cached(product.id)
    entrants = await RaffleEntry.filter(product_id=product.id).values_list("user_id", flat=True)
    places = product.stock // (product.per_customer_limit or 1)
    winners = pick_winners([int(u) for u in entrants], places=places, seed=seed)  # type: ignore[call-overload]
    await RaffleEntry.filter(product_id=product.id, user_id__in=winners).update(won=True)
    until = now + timedelta(minutes=product.raffle_purchase_minutes)
    for user_id in winners:
        await accounts.notify(
            user_id,
            kind="raffle_won",
            message=f"恭喜中签“{product.title}”！请在 {until.astimezone(SHANGHAI):%H:%M} 前购买。"
            f" You won the raffle for “{product.title}”: buy before"
            f" {until.astimezone(SHANGHAI):%H:%M} (Beijing time).",
            link=f"/store/products/{product.id}",
        )
    return Draw(seed=seed, entries=len(entrants), winners=winners)


async def draw_due_raffles(*, now: datetime) -> int:
    """Draw every raffle whose entries have closed (the store's background task calls this)."""
    drawn = 0
    for product in await Product.filter(
        raffle_entries_until__lte=now, raffle_drawn_at__isnull=True
    ):
        try:
            await draw_raffle(product_id=product.id, now=now)
            drawn += 1
        except RaffleClosed:
            continue  # another worker drew it first
    return drawn
