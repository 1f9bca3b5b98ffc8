"""Addresses, digital goods, shipping and "new this week": one rule each, pages and API alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from accounts.models import User
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.errors import BadOrderState, OrderNotFound
from store.models import Allowance, Order, OrderStatus, Product
from tests.factories import (
    SHIPPING,
    address,
    bearer,
    card_payment_method,
    csrf_from,
    make_user,
    sign_in,
    token_for,
)


async def goods(*, digital: bool = False, **fields: object) -> Product:
    values: dict[str, object] = {
        "title": "电子书《枢纽》" if digital else "《枢纽》精装",
        "description": "",
        "category": "精神粮食",
        "price_fen": 4_900,
        "stock": 5,
        "requires_shipping": not digital,
    }
    values.update(fields)
    return await store.create_product(**values)  # type: ignore[arg-type]


async def api_order(
    client: httpx.AsyncClient, headers: dict[str, str], product: Product, **extra: object
) -> httpx.Response:
    return await client.post(
        "/api/v1/orders",
        json={"items": [{"product_id": product.id, "quantity": 1}], **extra},
        headers=headers,
    )


async def test_paying_goods_that_ship_without_an_address_is_422_and_keeps_the_hold(
    client: httpx.AsyncClient,
) -> None:
    product = await goods()
    headers = bearer(await token_for(await make_user()))
    order = (await api_order(client, headers, product)).json()
    seen = (await client.get(f"/api/v1/orders/{order['id']}", headers=headers)).json()
    assert seen["requires_shipping"] is True and seen["shipping"] is None
    refused = await client.post(
        f"/api/v1/orders/{order['id']}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "address_required"
    assert (await Order.get(id=order["id"])).status == OrderStatus.PENDING_PAYMENT
    paid = await client.post(
        f"/api/v1/orders/{order['id']}/payment",
        json={"payment_method": "pm_card_visa", "shipping": SHIPPING},
        headers=headers,
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    seen = (await client.get(f"/api/v1/orders/{order['id']}", headers=headers)).json()
    assert seen["shipping"] == {**SHIPPING, "district_code": None}


async def test_an_address_given_with_the_order_is_kept_on_the_fast_path(
    client: httpx.AsyncClient,
) -> None:
    product = await goods()  # open to everyone: held for the token in one statement
    headers = bearer(await token_for(await make_user()))
    created = await api_order(client, headers, product, shipping=SHIPPING)
    assert created.status_code == 201
    order_id = created.json()["id"]
    seen = (await client.get(f"/api/v1/orders/{order_id}", headers=headers)).json()
    assert seen["shipping"] == {**SHIPPING, "district_code": None}
    paid = await client.post(
        f"/api/v1/orders/{order_id}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert paid.status_code == 200


async def test_digital_goods_are_paid_without_an_address_and_keep_none(
    client: httpx.AsyncClient,
) -> None:
    admin = bearer(await token_for(await make_user(admin=True)))
    created = await client.post(
        "/api/v1/admin/products",
        json={
            "title": "课程通行证",
            "description": "",
            "category": "课程",
            "price_fen": 19_900,
            "stock": 3,
            "requires_shipping": False,
        },
        headers=admin,
    )
    assert created.status_code == 201 and created.json()["requires_shipping"] is False
    product_id = created.json()["id"]
    listed = (await client.get(f"/api/v1/products/{product_id}")).json()
    assert listed["requires_shipping"] is False
    headers = bearer(await token_for(await make_user()))
    order = await client.post(
        "/api/v1/orders",
        json={"items": [{"product_id": product_id, "quantity": 1}], "shipping": SHIPPING},
        headers=headers,
    )
    assert order.status_code == 201
    body = (await client.get(f"/api/v1/orders/{order.json()['id']}", headers=headers)).json()
    assert body["requires_shipping"] is False
    assert body["shipping"] is None  # nothing ships: the address is not kept
    paid = await client.post(
        f"/api/v1/orders/{body['id']}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "12812345678"}, "shipping.phone"),
        ({"phone": "1381234567"}, "shipping.phone"),
        ({"province": "北京"}, "shipping.province"),
        ({"city": "   "}, "shipping.city"),
        ({"address": "号" * 201}, "shipping.address"),
        ({"name": ""}, "shipping.name"),
    ],
)
async def test_a_bad_address_is_422_naming_the_field_and_orders_nothing(
    client: httpx.AsyncClient, change: dict[str, str], field: str
) -> None:
    product = await goods()
    headers = bearer(await token_for(await make_user()))
    refused = await api_order(client, headers, product, shipping={**SHIPPING, **change})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == field
    assert await Order.all().count() == 0


async def test_a_missing_address_field_is_422(client: httpx.AsyncClient) -> None:
    product = await goods()
    headers = bearer(await token_for(await make_user()))
    partial = {key: value for key, value in SHIPPING.items() if key != "district"}
    refused = await api_order(client, headers, product, shipping=partial)
    assert refused.status_code == 422
    assert "district" in refused.json()["error"]["field"]


async def test_new_this_week_is_one_rule_for_the_page_and_the_api(
    client: httpx.AsyncClient,
) -> None:
    older = await goods(title="去年的老书")
    await Product.filter(id=older.id).update(created_at=datetime.now(UTC) - timedelta(days=8))
    newer = await goods(title="本周上架")
    everything = (await client.get("/api/v1/products", params={"sort": "new"})).json()
    assert [p["id"] for p in everything["items"]] == [newer.id, older.id]
    this_week = await client.get("/api/v1/products", params={"sort": "new", "new_within_days": 7})
    assert [p["id"] for p in this_week.json()["items"]] == [newer.id]
    page = (await client.get("/store")).text
    assert "本周上架" in page and "去年的老书" not in page
    assert (await client.get("/api/v1/products", params={"new_within_days": 0})).status_code == 422


async def held(buyer: User, product: Product) -> Order:
    return await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )


async def paid_order(client: httpx.AsyncClient) -> Order:
    buyer = await make_user()
    order = await held(buyer, await goods())
    await store.pay_order(
        provider=client._transport.app.state.payments_provider,  # type: ignore[attr-defined]
        order_id=order.id,
        user=buyer,
        choice=PaymentChoice(payment_method="pm_card_visa"),
        now=datetime.now(UTC),
    )
    return await Order.get(id=order.id)


async def test_a_refused_ship_changes_nothing_not_even_the_tracking_number(
    client: httpx.AsyncClient,
) -> None:
    pending = await held(await make_user(), await goods())
    with pytest.raises(BadOrderState):
        await store.mark_shipped(order_id=pending.id, carrier="sf", tracking_number="SF0000000001")
    unchanged = await Order.get(id=pending.id)
    assert unchanged.tracking_number is None
    assert unchanged.status == OrderStatus.PENDING_PAYMENT
    with pytest.raises(OrderNotFound):
        await store.mark_shipped(
            order_id=pending.id + 1000, carrier="sf", tracking_number="SF0000000002"
        )

    paid = await paid_order(client)
    shipped = await store.mark_shipped(
        order_id=paid.id, carrier="sf", tracking_number=" SF 0000000003 "
    )
    assert shipped.status == OrderStatus.SHIPPED and shipped.tracking_number == "SF 0000000003"
    with pytest.raises(BadOrderState):  # shipped once: a second ship changes nothing
        await store.mark_shipped(order_id=paid.id, carrier="sf", tracking_number="SF0000000004")
    assert (await Order.get(id=paid.id)).tracking_number == "SF 0000000003"


async def test_the_admin_ships_a_missing_order_as_404(client: httpx.AsyncClient) -> None:
    await make_user(email="boss@example.cn", admin=True)
    await sign_in(client, "boss@example.cn")
    page = await client.get("/admin/catalogue")  # a page with a form
    missing = await client.post(
        "/admin/orders/99999/ship",
        data={
            "csrf_token": csrf_from(page.text),
            "carrier": "sf",
            "tracking_number": "SF1234567890",
        },
    )
    assert missing.status_code == 404


async def test_returns_never_take_the_allowance_below_zero(client: httpx.AsyncClient) -> None:
    buyer = await make_user()
    product = await goods(per_customer_limit=3, stock=5)
    provider = client._transport.app.state.payments_provider  # type: ignore[attr-defined]
    orders = [await held(buyer, product) for _ in range(3)]
    assert (await Allowance.get(product_id=product.id, user_id=buyer.id)).units == 3
    # A count that went wrong before this rule (say, lowered by hand) is not taken below zero.
    await Allowance.filter(product_id=product.id, user_id=buyer.id).update(units=1)
    results = await asyncio.gather(
        *(
            store.cancel_order(
                provider=provider, order_id=order.id, user=buyer, now=datetime.now(UTC)
            )
            for order in orders
        ),
        return_exceptions=True,
    )
    assert all(not isinstance(result, BaseException) for result in results), results
    assert (await Allowance.get(product_id=product.id, user_id=buyer.id)).units == 0


@pytest.mark.postgres_only
async def test_returns_running_at_once_lose_no_update(client: httpx.AsyncClient) -> None:
    # The old code read the allowance, subtracted in Python and wrote it back: two returns at
    # once could both read 2 and leave 1. One guarded UPDATE per return leaves exactly 0.
    provider = client._transport.app.state.payments_provider  # type: ignore[attr-defined]
    for _ in range(5):
        buyer = await make_user()
        product = await goods(per_customer_limit=2, stock=2)
        orders = [await held(buyer, product) for _ in range(2)]
        await asyncio.gather(
            *(
                store.cancel_order(
                    provider=provider, order_id=order.id, user=buyer, now=datetime.now(UTC)
                )
                for order in orders
            )
        )
        assert (await Allowance.get(product_id=product.id, user_id=buyer.id)).units == 0


async def test_a_paid_orders_address_is_offered_at_the_next_checkout(
    app: Starlette, settings: Settings, client: httpx.AsyncClient
) -> None:
    """The address book: remembered when an order is paid (once per distinct address), and the
    next checkout is filled with it and lists it."""
    from store.models import SavedAddress

    buyer = await make_user(email="repeat@example.cn")
    product = await store.create_product(
        title="书院帆布袋", description="", category="逼格工场", price_fen=9_900, stock=5
    )
    unpaid = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    assert await SavedAddress.filter(user_id=buyer.id).count() == 0  # typed, not yet paid
    for order in (unpaid, await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )):  # fmt: skip
        await store.pay_order(
            provider=app.state.payments_provider,
            order_id=order.id,
            user=buyer,
            choice=PaymentChoice(
                payment_method=await card_payment_method(settings, "4242424242424242")
            ),
            now=datetime.now(UTC),
        )
    assert await SavedAddress.filter(user_id=buyer.id).count() == 1  # the same address once
    fresh = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
    )
    await sign_in(client, "repeat@example.cn")
    page = await client.get(f"/store/orders/{fresh.id}/pay")
    assert 'id="saved-address"' in page.text
    assert f'value="{SHIPPING["name"]}"' in page.text  # the form is filled with it
    assert f'value="{SHIPPING["address"]}"' in page.text
