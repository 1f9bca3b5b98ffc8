"""The catalogue changed by staff after a product was made: edits, publishing, stock, pictures,
deletion; each one an audit entry written in its own transaction (store.catalog makes and
lists products).

Workers keep a product for PRODUCT_SECONDS (store.memory): an edit forgets it in the worker
that made it, and every other worker reads it again within that second. An order placed in
that second may keep the old price or rule; orders already held or paid always keep the price
they were placed at (OrderItem.unit_price_fen, Order.total_fen and shipping_fee_fen).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from changes import PRODUCT, announce
from db import for_dialect, read_sql
from errors import ValidationError
from pictures import PicturePool
from store.catalog import (
    MAX_STOCK,
    category_named,
    check_sale_times,
    checked_fields,
    get_product,
    product_record,
    stock_left,
)
from store.errors import ProductHasOrders, RaffleClosed, StockBelowCommitted
from store.images import resize_upload, store_product_image
from store.memory import StoreMemory
from store.models import (
    Allowance,
    DropReminder,
    OrderItem,
    Product,
    RaffleEntry,
    StockUnit,
)

SQL = Path(__file__).resolve().parent / "sql"
_REMOVE_UNITS = read_sql(SQL / "remove_units.sql")

EDITABLE = frozenset(
    {
        "title",
        "description",
        "category",
        "price_fen",
        "per_customer_limit",
        "member_head_start_minutes",
        "sale_starts_at",
        "sale_ends_at",
        "published",
        "requires_shipping",
        "shipping_fee_fen",
        "raffle_entries_until",
        "raffle_purchase_minutes",
    }
)
SALE_TIMES = ("sale_starts_at", "sale_ends_at")
BEFORE_ANY_ORDER = ("requires_shipping", "raffle_entries_until", "raffle_purchase_minutes")


def sale_has_opened(product: Product, now: datetime) -> bool:
    """Whether anyone may have bought already: its earliest opening (members' head start
    included) has come; a product without a start time has been on sale since it was made."""
    if product.sale_starts_at is None:
        return True
    head_start = timedelta(minutes=product.member_head_start_minutes)
    return now >= product.sale_starts_at - head_start


async def ever_ordered(product_id: int) -> bool:
    """Whether any order ever held the product (an item, or a unit claimed)."""
    return (
        await OrderItem.exists(product_id=product_id)
        or await StockUnit.filter(product_id=product_id, order_id__isnull=False).exists()
    )


async def update_product(
    product_id: int,
    changes: Mapping[str, Any],
    *,
    actor: User | None,
    now: datetime,
    memory: StoreMemory | None = None,
) -> Product:
    """Change a product's fields (EDITABLE; `changes` holds only those to change, checked as
    create_product checks them). Orders already held or paid keep their price. Sale times
    change only before the sale opened; shipping and the raffle's fields only while no order
    ever held the product (checked, not locked against a hold in flight: checkout reads
    requires_shipping when paying, so such an order still pays right). A value given as it
    already is changes nothing.

    This worker forgets the product at once; other workers keep their copy up to
    store.memory.PRODUCT_SECONDS (one second), so an order placed within a second of the edit
    may keep the old price. Audit: "product.update" with the changed fields only, before and
    after, and "product.publish" / "product.unpublish" when `published` changes.

    Raises ProductNotFound, ValidationError (naming the field), ProductHasOrders,
    RaffleClosed (its raffle was drawn).
    """
    for name in changes:
        if name not in EDITABLE:
            raise ValidationError(name, "cannot be changed here")
    checked = checked_fields(changes)
    async with in_transaction():
        product = await get_product(product_id)
        current: dict[str, Any] = {name: getattr(product, name) for name in checked}
        current["category"] = product.category.name
        wanted = dict(checked)
        category = None
        if "category" in checked:
            category = await category_named(checked["category"])
            wanted["category"] = category.name
        before, after = audit.changed(current, wanted)
        if not after:
            return product
        merged = {name: getattr(product, name) for name in SALE_TIMES} | {
            name: checked[name] for name in SALE_TIMES if name in after
        }
        check_sale_times(merged["sale_starts_at"], merged["sale_ends_at"])
        if any(name in after for name in SALE_TIMES) and sale_has_opened(product, now):
            raise ProductHasOrders("The sale has opened: its times can no longer change.")
        if any(name in after for name in BEFORE_ANY_ORDER):
            if product.raffle_drawn_at is not None:
                raise RaffleClosed("The raffle has been drawn: it can no longer change.")
            if await ever_ordered(product.id):
                raise ProductHasOrders(
                    "Someone has ordered it: shipping and the raffle can no longer change."
                )
        values = {name: checked[name] for name in after if name != "category"}
        if category is not None and "category" in after:
            values["category_id"] = category.id
        await Product.filter(id=product.id).update(**values)
        await _record_update(actor, product.id, before, after, now)
    if memory is not None:
        memory.forget(product.id)
    await announce(PRODUCT, product.id)
    return await get_product(product.id)


async def _record_update(
    actor: User | None,
    product_id: int,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> None:
    if "published" in after:
        await audit.record(
            actor=actor,
            action="product.publish" if after["published"] else "product.unpublish",
            object_type="product",
            object_id=product_id,
            before={"published": before["published"]},
            after={"published": after["published"]},
            now=now,
        )
    rest = [name for name in after if name != "published"]
    if rest:
        await audit.record(
            actor=actor,
            action="product.update",
            object_type="product",
            object_id=product_id,
            before={name: before[name] for name in rest},
            after={name: after[name] for name in rest},
            now=now,
        )


async def change_stock(
    product_id: int,
    change: int,
    *,
    actor: User | None,
    now: datetime,
    memory: StoreMemory | None = None,
) -> tuple[int, int]:
    """Add `change` units (numbered after the highest) or, negative, remove that many free
    units (neither sold nor held), all or none, in one transaction (0 changes nothing and
    records nothing). Returns (stock, units left). A restock brings the product back from
    sold out (this worker forgets it at once; others within a second). Audit:
    "product.stock" with the stock before and after.

    Raises ProductNotFound, ValidationError("change"), StockBelowCommitted (fewer free units
    than asked to remove: some are sold or held, or being held right now).
    """
    if isinstance(change, bool) or not isinstance(change, int):
        raise ValidationError("change", "must be a whole number, e.g. 10 or -5")
    if change == 0:
        product = await get_product(product_id)
        return product.stock, await stock_left(product)
    if abs(change) > MAX_STOCK:
        raise ValidationError("change", f"must be at most {MAX_STOCK} units either way")
    async with in_transaction() as connection:
        product = await get_product(product_id)
        # Invariant "Product.stock is the number of its StockUnit rows": the stock moves by
        # exactly the rows added or deleted, in this one transaction. The UPDATE comes first
        # and locks the product's row, so two changes of one product's stock queue here
        # (holds never take that lock: they claim unit rows only).
        moved = await Product.filter(id=product.id, stock__lte=MAX_STOCK - change).update(
            stock=F("stock") + change
        )
        if not moved:
            raise ValidationError("change", f"would take the stock above {MAX_STOCK}")
        if change > 0:
            numbers = await StockUnit.filter(product_id=product.id).order_by("-number").limit(1)
            top = numbers[0].number if numbers else 0
            await StockUnit.bulk_create(
                [StockUnit(product_id=product.id, number=top + n) for n in range(1, change + 1)],
                batch_size=2000,
            )
        else:
            dialect = connection.capabilities.dialect
            sql = _REMOVE_UNITS.replace(
                "/* lock */", "FOR UPDATE SKIP LOCKED" if dialect == "postgres" else ""
            )
            removed = await connection.execute_query_dict(
                for_dialect(sql, dialect), [product.id, -change]
            )
            if len(removed) != -change:
                raise StockBelowCommitted()  # the transaction rolls back: nothing removed
        # Read under the row's lock: another change that committed since `product` was read
        # is counted.
        stock = (await Product.get(id=product.id)).stock
        left = await stock_left(product)
        await audit.record(
            actor=actor,
            action="product.stock",
            object_type="product",
            object_id=product.id,
            before={"stock": stock - change},
            after={"stock": stock, "change": change},
            now=now,
        )
    if memory is not None:
        memory.forget(product.id)  # a restock clears the sold-out memory with it
    await announce(PRODUCT, product.id)
    return stock, left


async def delete_product(
    product_id: int, *, actor: User | None, now: datetime, memory: StoreMemory | None = None
) -> None:
    """Delete a product no order ever held, its units, reminders and raffle entries with it.
    Safe against a hold at the same moment: the free units go first (a hold claiming one
    right now holds its lock, and the delete waits for it), then if any unit is claimed or
    any order item names the product, everything rolls back. Audit: "product.delete" with
    the product's fields as they were.

    Raises ProductNotFound, ProductHasOrders.
    """
    async with in_transaction():
        # The product's row first: a restock (change_stock) takes it too, so no unit can be
        # added (and claimed) between the look below and the delete.
        await Product.filter(id=product_id).select_for_update().first()
        product = await get_product(product_id)
        before = product_record(product)
        await StockUnit.filter(product_id=product.id, order_id__isnull=True).delete()
        if await ever_ordered(product.id):
            raise ProductHasOrders("Someone has ordered it: take it down (unpublish) instead.")
        await Allowance.filter(product_id=product.id).delete()
        await DropReminder.filter(product_id=product.id).delete()
        await RaffleEntry.filter(product_id=product.id).delete()
        await Product.filter(id=product.id).delete()
        await audit.record(
            actor=actor,
            action="product.delete",
            object_type="product",
            object_id=product.id,
            before=before,
            now=now,
        )
    if memory is not None:
        memory.forget(product.id)
    await announce(PRODUCT, product.id)


async def set_product_image(
    *,
    product_id: int,
    data: bytes,
    pictures: PicturePool,
    actor: User | None = None,
    now: datetime | None = None,
    memory: StoreMemory | None = None,
) -> Product:
    """Store an uploaded picture for a product (resized in the picture pool); raises
    ValidationError("image"), ProductNotFound, ServiceUnavailable (the pool is full)."""
    resized = await resize_upload(data, pictures)  # checked before anything is written
    return await save_product_image(
        product_id=product_id,
        resized=resized,
        actor=actor,
        now=now,
        memory=memory,
    )


async def save_product_image(
    *,
    product_id: int,
    resized: dict[str, bytes],
    actor: User | None = None,
    now: datetime | None = None,
    memory: StoreMemory | None = None,
) -> Product:
    """A resized picture (store.images.resize_upload) becomes the product's. Audit:
    "product.image" with the picture's name before and after. Raises ProductNotFound."""
    product = await get_product(product_id)
    async with in_transaction():
        before = product.image
        product.image = await store_product_image(product.id, resized)
        await product.save(update_fields=["image"])
        await audit.record(
            actor=actor,
            action="product.image",
            object_type="product",
            object_id=product.id,
            before={"image": before},
            after={"image": product.image},
            now=now,
        )
    if memory is not None:
        memory.forget(product.id)
    await announce(PRODUCT, product.id)
    return product
