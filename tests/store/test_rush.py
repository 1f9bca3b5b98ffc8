"""A limited drop under a rush: exactly the stock sold, limits held by the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from accounts import services as accounts
from payments.models import Payment, PaymentStatus
from payments.provider import PaymentProvider
from settings import Settings
from store import services as store
from store.models import Allowance, Order, OrderStatus, StockUnit
from tests.factories import SHIPPING, bearer, card_payment_method, make_user, make_users
from tests.payments.conftest import webhooks_to


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


@pytest.mark.postgres_only  # concurrency means something on PostgreSQL only
async def test_a_drop_paid_by_card_wechat_pay_and_alipay_at_once_sells_exactly_its_stock(
    app: Starlette, client: httpx.AsyncClient, settings: Settings, provider: PaymentProvider
) -> None:
    """150 buyers for 30 units; the 30 holders pay at once, a third each by card, WeChat Pay
    and Alipay, through the provider process. Three WeChat payers decline; their holds run out,
    the units go back, and three more buyers take them with Alipay. Exactly 30 units sold,
    each to one paid order with one succeeded payment."""
    drop = await store.create_product(
        title="得到 · 年度限量台历",
        description="",
        category="周边",
        price_fen=12_800,
        stock=30,
        per_customer_limit=1,
    )
    people = await make_users(150, prefix="methods")
    tokens = [await accounts.issue_token(person, name="drop") for person in people]
    body = {"items": [{"product_id": drop.id, "quantity": 1}], "shipping": SHIPPING}
    placed = await asyncio.gather(
        *(client.post("/api/v1/orders", json=body, headers=bearer(t)) for t in tokens)
    )
    holders = [
        (t, r.json()["id"]) for t, r in zip(tokens, placed, strict=True) if r.status_code == 201
    ]
    losers = [t for t, r in zip(tokens, placed, strict=True) if r.status_code != 201]
    assert len(holders) == 30

    async def pay(token: str, order_id: int, method: str) -> dict[str, Any]:
        choice: dict[str, str] = {"method": method}
        if method == "card":
            choice = {"payment_method": await card_payment_method(settings, "4242424242424242")}
        elif method == "alipay":
            choice["return_url"] = f"http://testserver/store/orders/{order_id}/paying"
        answer = await client.post(
            f"/api/v1/orders/{order_id}/payment", json=choice, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def press(result: dict[str, Any], answer: str) -> None:
        action = result["next_action"]
        async with httpx.AsyncClient() as http:
            await http.post(f"{action.get('qr_data') or action['url']}/{answer}")

    methods = ["card", "wechat_pay", "alipay"]
    async with webhooks_to(app, settings):
        results = await asyncio.gather(
            *(pay(t, order_id, methods[i % 3]) for i, (t, order_id) in enumerate(holders))
        )
        assert [r["status"] for r in results].count("paid") == 10  # the cards
        wallets = [r for r in results if r["status"] == "requires_action"]
        assert len(wallets) == 20
        declining = [r for r in wallets if r["next_action"]["type"] != "redirect"][:3]
        await asyncio.gather(*(press(r, "decline" if r in declining else "pay") for r in wallets))

        async def settled() -> bool:
            paid = await Order.filter(status=OrderStatus.PAID).count()
            failed = await Payment.filter(status=PaymentStatus.FAILED).count()
            return paid == 27 and failed == 3

        for _ in range(200):
            if await settled():
                break
            await asyncio.sleep(0.1)
        assert await settled()

        # The three declined holds run out: their units go back on sale.
        later = datetime.now(UTC) + timedelta(minutes=11)
        assert await store.release_expired_orders(provider=provider, now=later) == 3
        assert await StockUnit.filter(product_id=drop.id, order_id__isnull=True).count() == 3
        again = await asyncio.gather(
            *(client.post("/api/v1/orders", json=body, headers=bearer(t)) for t in losers[:10])
        )
        second = [
            (t, r.json()["id"])
            for t, r in zip(losers[:10], again, strict=True)
            if r.status_code == 201
        ]
        assert len(second) == 3
        late = await asyncio.gather(*(pay(t, order_id, "alipay") for t, order_id in second))
        await asyncio.gather(*(press(r, "pay") for r in late))
        for _ in range(200):
            if await Order.filter(status=OrderStatus.PAID).count() == 30:
                break
            await asyncio.sleep(0.1)

    paid = await Order.filter(status=OrderStatus.PAID).values_list("id", flat=True)
    assert len(paid) == 30
    assert await StockUnit.filter(product_id=drop.id, order_id__isnull=True).count() == 0
    sold_to = await StockUnit.filter(product_id=drop.id).values_list("order_id", flat=True)
    assert sorted(sold_to) == sorted(paid)  # each unit to one paid order, none elsewhere
    succeeded = await Payment.filter(status=PaymentStatus.SUCCEEDED).values_list(
        "subject_id", "method"
    )
    assert sorted(int(subject) for subject, _ in succeeded) == sorted(paid)  # one each
    by_method = [method for _, method in succeeded]
    assert (by_method.count("card"), by_method.count("wechat_pay"), by_method.count("alipay")) == (
        10,
        7,
        13,
    )
