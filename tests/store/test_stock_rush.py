"""Stock changed while a crowd buys: only free units are removed, nothing is oversold, and the
stock stays the number of unit rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from accounts import services as accounts
from store import services as store
from store.errors import ProductHasOrders, StockBelowCommitted
from store.models import Order, OrderStatus, Product, StockUnit
from tests.factories import bearer, make_user, make_users


@pytest.mark.postgres_only  # concurrency means something on PostgreSQL only
async def test_stock_removed_and_added_during_a_rush_never_oversells(
    client: httpx.AsyncClient,
) -> None:
    drop = await store.create_product(
        title="逼格工场 · 铜尺", description="", category="逼格工场", price_fen=6_900, stock=200
    )
    admin = await make_user(admin=True)
    people = await make_users(300, prefix="stockrush")
    tokens = [await accounts.issue_token(person, name="drop") for person in people]
    body = {"items": [{"product_id": drop.id, "quantity": 1}]}

    async def change(units: int, after: float) -> int:
        """The units this change moved: 0 when refused (the free ones were taken first)."""
        await asyncio.sleep(after)  # spread over the rush
        try:
            await store.change_stock(drop.id, units, actor=admin, now=datetime.now(UTC))
        except StockBelowCommitted:
            return 0
        return units

    # 300 buyers for 200 units, and among them twenty removals of 10 units (more than can be
    # free once the crowd is served: some are refused) and five additions of 4.
    changes = [change(-10, i * 0.08) for i in range(20)] + [change(4, i * 0.2) for i in range(5)]
    buys = [client.post("/api/v1/orders", json=body, headers=bearer(t)) for t in tokens]
    results = await asyncio.gather(*buys[:100], *changes, *buys[100:])
    responses = results[:100] + results[100 + len(changes) :]
    moved = results[100 : 100 + len(changes)]
    removed = -sum(m for m in moved if isinstance(m, int) and m < 0)
    added = sum(m for m in moved if isinstance(m, int) and m > 0)
    statuses = [r.status_code for r in responses]  # type: ignore[union-attr]
    assert set(statuses) <= {201, 409}
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} <= {"sold_out"}  # type: ignore[union-attr]
    sold = statuses.count(201)
    left = await StockUnit.filter(product_id=drop.id, order_id__isnull=True).count()
    held = await StockUnit.filter(product_id=drop.id, order_id__isnull=False).count()
    assert added == 20
    assert held == sold == await Order.filter(status=OrderStatus.PENDING_PAYMENT).count()
    # Every unit is accounted for: sold + left + removed == original + added.
    assert sold + left + removed == 200 + added
    # The invariant: Product.stock is the number of unit rows.
    assert (await Product.get(id=drop.id)).stock == sold + left == 200 + added - removed
    # Nothing oversold: each held unit belongs to one order, each order holds one unit.
    owners = await StockUnit.filter(product_id=drop.id, order_id__isnull=False).values_list(
        "order_id", flat=True
    )
    assert len(set(owners)) == len(owners) == sold
    numbers = await StockUnit.filter(product_id=drop.id).values_list("number", flat=True)
    assert len(set(numbers)) == len(numbers)


@pytest.mark.postgres_only  # concurrency means something on PostgreSQL only
async def test_a_product_deleted_during_a_rush_is_either_deleted_before_any_order_or_kept(
    client: httpx.AsyncClient,
) -> None:
    drop = await store.create_product(
        title="逼格工场 · 镇纸", description="", category="逼格工场", price_fen=6_900, stock=50
    )
    admin = await make_user(admin=True)
    people = await make_users(60, prefix="deleterush")
    tokens = [await accounts.issue_token(person, name="drop") for person in people]
    body = {"items": [{"product_id": drop.id, "quantity": 1}]}

    async def delete() -> bool:
        await asyncio.sleep(0.02)  # let the first holds reach the database
        try:
            await store.delete_product(drop.id, actor=admin, now=datetime.now(UTC))
        except ProductHasOrders:
            return False
        return True

    results = await asyncio.gather(
        *(client.post("/api/v1/orders", json=body, headers=bearer(t)) for t in tokens[:30]),
        delete(),
        *(client.post("/api/v1/orders", json=body, headers=bearer(t)) for t in tokens[30:]),
    )
    deleted = results[30]
    responses = [r for r in results if isinstance(r, httpx.Response)]
    sold = [r.status_code for r in responses].count(201)
    if deleted:
        assert sold == 0
        assert not await Product.exists(id=drop.id)
        assert await StockUnit.filter(product_id=drop.id).count() == 0
    else:
        assert sold >= 1
        product = await Product.get(id=drop.id)
        assert await StockUnit.filter(product_id=drop.id).count() == product.stock == 50
        assert await StockUnit.filter(product_id=drop.id, order_id__isnull=False).count() == sold
