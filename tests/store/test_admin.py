"""The store's console pages: create a drop in Beijing time, ship, refund, export orders."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from payments.services import PaymentChoice
from store import services as store
from store.models import Order, OrderStatus, Product
from tests.factories import address, csrf_from, make_user, sign_in


async def test_admins_create_a_drop_ship_an_order_and_export_csv(
    client: httpx.AsyncClient, provider: object
) -> None:
    await make_user(email="boss@example.cn", admin=True)
    await sign_in(client, "boss@example.cn")
    page = await client.get("/admin/catalogue", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    created = await client.post(
        "/admin/catalogue/products",
        data={
            "csrf_token": csrf_from(page.text),
            "title": "黄铜书签",
            "category": "逼格工场",
            "price_yuan": "99",
            "stock": "3",
            "per_customer_limit": "1",
            "sale_starts_at": "2030-06-01T10:00",
            "description": "限量",
        },
    )
    assert created.status_code == 303
    drop = await Product.get(title="黄铜书签")
    assert drop.price_fen == 9_900
    assert drop.sale_starts_at == datetime(2030, 6, 1, 2, tzinfo=UTC)  # 10:00 in Beijing
    assert drop.per_customer_limit == 1

    bad = await client.post(
        "/admin/catalogue/products",
        data={
            "csrf_token": csrf_from(page.text),
            "title": "x",
            "category": "c",
            "price_yuan": "free",
            "stock": "1",
        },
    )
    assert bad.status_code == 422

    goods = await store.create_product(
        title="笔记本", description="", category="文具精选", price_fen=3_900, stock=2
    )
    buyer = await make_user(name="顾客甲")
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(goods.id, 1)],
        now=datetime.now(UTC),
        counter=client._transport.app.state.counter,  # type: ignore[attr-defined]
        shipping=address(),
    )
    await store.pay_order(
        provider=provider,
        order_id=order.id,
        user=buyer,  # type: ignore[arg-type]
        choice=PaymentChoice(payment_method="pm_card_visa"),
        now=datetime.now(UTC),
    )
    shipped = await client.post(
        f"/admin/orders/{order.id}/ship",
        data={
            "csrf_token": csrf_from(page.text),
            "carrier": "sf",
            "tracking_number": "SF1234567890",
        },
    )
    assert shipped.status_code == 303
    assert (await Order.get(id=order.id)).status == OrderStatus.SHIPPED
    paid_only = await client.get("/admin/orders", params={"status": "shipped"})
    assert "SF1234567890" in paid_only.text
    csv_text = (await client.get("/admin/orders.csv")).text.lstrip("\ufeff")
    assert csv_text.splitlines()[0].startswith("order,status,total_yuan")
    assert f"{order.id},shipped,39.00" in csv_text


async def test_non_admins_cannot_open_the_store_admin(client: httpx.AsyncClient) -> None:
    await make_user(email="shopper@example.cn")
    await sign_in(client, "shopper@example.cn")
    assert (await client.get("/admin/catalogue")).status_code == 403


async def test_an_admin_form_with_a_bad_picture_creates_nothing(client: httpx.AsyncClient) -> None:
    await make_user(email="boss@example.cn", admin=True)
    await sign_in(client, "boss@example.cn")
    page = await client.get("/admin/catalogue")
    response = await client.post(
        "/admin/catalogue/products",
        data={
            "csrf_token": csrf_from(page.text),
            "title": "书签",
            "category": "逼格工场",
            "price_yuan": "99",
            "stock": "3",
        },
        files={"image": ("x.jpg", b"not a jpeg", "image/jpeg")},
    )
    assert response.status_code == 422
    assert 'id="image-error"' in response.text
    assert await Product.all().count() == 0


async def test_an_admin_form_shows_every_problem_at_once_and_keeps_what_was_typed(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="boss@example.cn", admin=True)
    await sign_in(client, "boss@example.cn")
    page = await client.get("/admin/catalogue")
    response = await client.post(
        "/admin/catalogue/products",
        data={
            "csrf_token": csrf_from(page.text),
            "title": "限量书签",
            "category": "逼格工场",
            "price_yuan": "九十九",
            "stock": "-3",
            "description": "手工制作",
            "members_only": "on",
        },
    )
    assert response.status_code == 422
    assert 'id="price_yuan-error"' in response.text and 'id="stock-error"' in response.text
    assert 'value="限量书签"' in response.text and "手工制作</textarea>" in response.text
    assert 'name="members_only" class="check" checked' in response.text
    assert await Product.all().count() == 0
