"""A limited drop under a rush: exactly the stock sold, limits held by the database."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from accounts import services as accounts
from store import services as store
from store.models import Allowance, Order, OrderStatus, StockUnit
from tests.factories import bearer, make_user, make_users


@pytest.mark.postgres_only  # concurrency means something on PostgreSQL only
async def test_1000_concurrent_buyers_for_100_units_make_exactly_100_orders(
    client: httpx.AsyncClient,
) -> None:
    drop = await store.create_product(
        title="逼格工场 · 黄铜书签", description="", category="逼格工场", price_fen=9_900, stock=100
    )
    people = await make_users(1000, prefix="drop")
    tokens = [await accounts.issue_token(person, name="drop") for person in people]
    body = {"items": [{"product_id": drop.id, "quantity": 1}]}
    responses = await asyncio.gather(
        *(client.post("/api/v1/orders", json=body, headers=bearer(t)) for t in tokens)
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 100
    assert statuses.count(409) == 900
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"sold_out"}
    assert await Order.filter(status=OrderStatus.PENDING_PAYMENT).count() == 100
    assert await StockUnit.filter(product_id=drop.id, order_id__isnull=True).count() == 0
    held = await StockUnit.filter(product_id=drop.id, order_id__isnull=False).count()
    assert held == 100


@pytest.mark.postgres_only  # concurrency means something on PostgreSQL only
async def test_50_concurrent_requests_from_one_account_get_at_most_the_limit(
    client: httpx.AsyncClient,
) -> None:
    drop = await store.create_product(
        title="文具精选 · 钢笔",
        description="",
        category="文具精选",
        price_fen=19_900,
        stock=100,
        per_customer_limit=2,
    )
    buyer = await make_user()
    token = await accounts.issue_token(buyer, name="greedy")
    body = {"items": [{"product_id": drop.id, "quantity": 1}]}
    responses = await asyncio.gather(
        *(client.post("/api/v1/orders", json=body, headers=bearer(token)) for _ in range(50))
    )
    assert [r.status_code for r in responses].count(201) <= 2
    assert await StockUnit.filter(product_id=drop.id, order_id__isnull=False).count() <= 2
    assert (await Allowance.get(product_id=drop.id, user_id=buyer.id)).units <= 2
    codes = {r.json()["error"]["code"] for r in responses if r.status_code != 201}
    assert codes <= {"limit_exceeded", "rate_limited"}


@pytest.mark.postgres_only  # concurrency means something on PostgreSQL only
async def test_a_crowd_with_a_limit_of_one_gets_exactly_the_stock_one_unit_each(
    client: httpx.AsyncClient,
) -> None:
    # 200 buyers, each asking twice at once, for 150 units with a limit of one: the holds go
    # to the database in batches, where sold out, over the limit and held sit side by side.
    drop = await store.create_product(
        title="精神粮食 · 年度书单",
        description="",
        category="精神粮食",
        price_fen=4_900,
        stock=150,
        per_customer_limit=1,
    )
    people = await make_users(200, prefix="limited")
    tokens = [await accounts.issue_token(person, name="drop") for person in people]
    body = {"items": [{"product_id": drop.id, "quantity": 1}]}
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/orders", json=body, headers=bearer(token))
            for token in tokens
            for _ in range(2)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 150
    codes = {r.json()["error"]["code"] for r in responses if r.status_code != 201}
    assert codes <= {"sold_out", "limit_exceeded"}
    assert await StockUnit.filter(product_id=drop.id, order_id__isnull=True).count() == 0
    orders = await Order.filter(status=OrderStatus.PENDING_PAYMENT).values_list(
        "user_id", flat=True
    )
    assert len(orders) == 150 and len(set(orders)) == 150  # one each
    allowances = await Allowance.filter(product_id=drop.id).values_list("units", flat=True)
    assert sorted(allowances, reverse=True)[:150] == [1] * 150
    assert sum(allowances) == 150
