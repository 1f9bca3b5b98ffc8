"""Shipping fees (issue 37): a product's postage; an order pays the highest fee of its items that
ship, nothing when its goods reach the store's free-shipping total (满 N 包邮); total_fen
includes the fee, which is its own field in the API and its own line on the pages and the
receipt; the drop's one-statement hold carries it, and a refund gives it back with the goods."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from accounts.models import AuditEntry, User
from payments.models import Refund
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.memory import StoreMemory
from store.models import Order, OrderStatus, Product
from store.shipping import check_address, shipping_fee
from tests.factories import (
    SHIPPING,
    bearer,
    card_payment_method,
    make_user,
    sign_in,
    token_for,
)
from tests.store.test_console_pages import form_values, signed_in_admin


def goods(price_fen: int, fee_fen: int, *, ships: bool = True) -> Product:
    return Product(price_fen=price_fen, shipping_fee_fen=fee_fen, requires_shipping=ships)


def test_the_fee_is_the_highest_of_the_items_that_ship_unless_the_goods_reach_the_total() -> None:
    book, mug, lecture = goods(6_500, 800), goods(3_000, 1_200), goods(19_900, 5_000, ships=False)
    products = {1: book, 2: mug, 3: lecture}
    # One parcel: the highest fee, not the sum, whatever the quantities.
    assert shipping_fee({1: 1, 2: 1}, products, free_over_fen=0) == 1_200
    assert shipping_fee({1: 3}, products, free_over_fen=0) == 800
    # A digital product ships nothing, and its fee is none of the order's.
    assert shipping_fee({3: 1}, products, free_over_fen=0) == 0
    assert shipping_fee({1: 1, 3: 1}, products, free_over_fen=0) == 800
    # 满 ¥99 包邮: the goods' total (every item's, the digital one's too) decides; reaching it
    # exactly is enough; one fen short pays.
    assert shipping_fee({1: 1, 2: 1}, products, free_over_fen=9_500) == 0
    assert shipping_fee({1: 1, 2: 1}, products, free_over_fen=9_501) == 1_200
    assert shipping_fee({1: 1, 3: 1}, products, free_over_fen=9_900) == 0
    # A product that ships free lowers nothing: the highest fee still counts.
    free = goods(1_000, 0)
    assert shipping_fee({1: 1, 4: 1}, {**products, 4: free}, free_over_fen=0) == 800
    assert shipping_fee({4: 2}, {4: free}, free_over_fen=0) == 0


async def place(
    buyer: User | str,
    wanted: dict[int, int],
    *,
    free_over_fen: int = 0,
    engine: str | None = None,
    district_code: str | None = None,
) -> Order:
    return await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=pid, quantity=n) for pid, n in wanted.items()],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        memory=StoreMemory(),
        shipping=check_address(**SHIPPING, district_code=district_code),
        free_shipping_over_fen=free_over_fen,
        engine=engine,
    )


async def test_an_order_of_several_items_pays_one_fee_and_its_total_includes_it() -> None:
    book = await store.create_product(
        title="《置身事内》", description="", category="图书", price_fen=6_500, stock=5,
        shipping_fee_fen=800,
    )  # fmt: skip
    mug = await store.create_product(
        title="书院马克杯", description="", category="周边", price_fen=3_000, stock=5,
        shipping_fee_fen=1_200,
    )  # fmt: skip
    buyer = await make_user()
    order = await place(buyer, {book.id: 1, mug.id: 1})
    stored = await Order.get(id=order.id)
    assert (stored.shipping_fee_fen, stored.total_fen) == (1_200, 6_500 + 3_000 + 1_200)
    assert (order.shipping_fee_fen, order.total_fen) == (1_200, 10_700)
    # The same basket over the store's free-shipping total ships free.
    free = await place(buyer, {book.id: 1, mug.id: 1}, free_over_fen=9_500)
    stored = await Order.get(id=free.id)
    assert (stored.shipping_fee_fen, stored.total_fen) == (0, 9_500)


async def test_a_product_edit_changes_the_fee_of_later_orders_only() -> None:
    book = await store.create_product(
        title="《小米创业思考》", description="", category="图书", price_fen=5_900, stock=5,
        shipping_fee_fen=600,
    )  # fmt: skip
    buyer = await make_user()
    before = await place(buyer, {book.id: 1})
    await store.update_product(
        book.id, {"shipping_fee_fen": 1_500}, actor=None, now=datetime.now(UTC)
    )
    after = await place(buyer, {book.id: 1})
    assert [(o.shipping_fee_fen, o.total_fen) for o in await Order.filter(
        id__in=[before.id, after.id]).order_by("id")] == [(600, 6_500), (1_500, 7_400)]  # fmt: skip


@pytest.mark.postgres_only
async def test_the_drops_one_statement_hold_carries_the_fee_and_a_refund_returns_it(
    app: Starlette, settings: Settings
) -> None:
    """The drop's engine ("single": store_hold, one round trip, for a token) writes the fee
    and the district code in its statement; paid, then refunded in full, the money returned
    is the goods and the fee."""
    drop = await store.create_product(
        title="限量发售 · 书院笔记本", description="", category="周边", price_fen=9_900, stock=3,
        shipping_fee_fen=1_000,
    )  # fmt: skip
    buyer = await make_user()
    for engine in ("single", "portable"):
        order = await place(
            await token_for(buyer), {drop.id: 1}, engine=engine, district_code="110108"
        )
        stored = await Order.get(id=order.id)
        assert (stored.shipping_fee_fen, stored.total_fen) == (1_000, 10_900), engine
        assert (order.shipping_fee_fen, order.total_fen) == (1_000, 10_900), engine
        assert (stored.ship_district, stored.ship_district_code) == ("海淀区", "110108")
        assert order.ship_district_code == "110108"
    # Under the free-shipping total's reach, the statement writes none.
    free = await place(await token_for(buyer), {drop.id: 1}, engine="single", free_over_fen=9_900)
    assert ((await Order.get(id=free.id)).total_fen, free.shipping_fee_fen) == (9_900, 0)

    provider = app.state.payments_provider
    await store.pay_order(
        provider=provider,
        order_id=order.id,
        user=buyer,
        choice=PaymentChoice(
            payment_method=await card_payment_method(settings, "4242424242424242")
        ),
        now=datetime.now(UTC),
    )
    paid = await Order.get(id=order.id)
    assert paid.status == OrderStatus.PAID
    payment = await store.order_payment(paid)
    assert payment is not None and payment.amount_fen == 10_900
    refunded = await store.refund_order(provider=provider, order_id=order.id, now=datetime.now(UTC))
    assert refunded.status == OrderStatus.REFUNDED
    assert sum(r.amount_fen for r in await Refund.filter(payment_id=payment.id)) == 10_900


async def test_the_api_answers_the_fee_and_the_store_wide_free_shipping_total(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    admin = bearer(await token_for(await make_user(role="admin")))
    made = await client.post(
        "/api/v1/admin/products",
        json={"title": "书院帆布袋", "description": "", "category": "周边", "price_fen": 4_500,
              "stock": 10, "shipping_fee_fen": 1_000},
        headers=admin,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["shipping_fee_fen"] == 1_000
    product_id = made.json()["id"]
    listed = await client.get(f"/api/v1/products/{product_id}")
    assert listed.json()["shipping_fee_fen"] == 1_000
    too_dear = await client.patch(
        f"/api/v1/admin/products/{product_id}", json={"shipping_fee_fen": 100_001}, headers=admin
    )
    assert too_dear.status_code == 422
    buyer = bearer(await token_for(await make_user()))
    shipping = {
        "name": "李雷", "phone": "13800138000", "province": "上海市", "city": "上海市",
        "district": "浦东新区", "address": "张江路 1 号",
    }  # fmt: skip
    one = await client.post(
        "/api/v1/orders",
        json={"items": [{"product_id": product_id, "quantity": 1}], "shipping": shipping},
        headers=buyer,
    )
    assert one.status_code == 201, one.text
    assert (one.json()["shipping_fee_fen"], one.json()["total_fen"]) == (1_000, 5_500)
    got = await client.get(f"/api/v1/orders/{one.json()['id']}", headers=buyer)
    assert (got.json()["shipping_fee_fen"], got.json()["total_fen"]) == (1_000, 5_500)
    # 满 ¥90 包邮, as the store's setting: two bags ship free.
    app.state.settings = dataclasses.replace(app.state.settings, free_shipping_over_fen=9_000)
    two = await client.post(
        "/api/v1/orders",
        json={"items": [{"product_id": product_id, "quantity": 2}], "shipping": shipping},
        headers=buyer,
    )
    assert (two.json()["shipping_fee_fen"], two.json()["total_fen"]) == (0, 9_000)
    page = await client.get(f"/store/products/{product_id}")
    assert "满 ¥90.00 包邮" in page.text or "free on orders from ¥90.00" in page.text


async def test_the_pages_show_the_fee_as_its_own_line(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    book = await store.create_product(
        title="《原则》", description="", category="图书", price_fen=7_900, stock=5,
        shipping_fee_fen=800,
    )  # fmt: skip
    buyer = await make_user()
    await sign_in(client, buyer.email or "")
    product = await client.get(f"/store/products/{book.id}", headers={"Accept-Language": "zh-CN"})
    assert '<dd class="shipping-fee">¥8.00</dd>' in product.text
    order = await place(buyer, {book.id: 1})
    checkout = await client.get(f"/store/orders/{order.id}/pay")
    assert '<dd class="shipping-fee">¥8.00</dd>' in checkout.text
    assert "¥87.00" in checkout.text  # the total: the book and its postage
    page = await client.get(f"/store/orders/{order.id}")
    assert '<dd class="shipping-fee">¥8.00</dd>' in page.text


async def test_staff_set_the_fee_in_yuan_on_the_product_form(client: httpx.AsyncClient) -> None:
    """The console's edit form shows the fee in yuan and saves a change (audited); empty is
    free shipping; words are refused beside the field."""
    await signed_in_admin(client)
    book = await store.create_product(
        title="《枪炮、病菌与钢铁》", description="", category="图书", price_fen=8_800, stock=2,
        shipping_fee_fen=650,
    )  # fmt: skip
    path = f"/admin/catalogue/products/{book.id}"
    values = form_values((await client.get(path)).text, path)
    assert values["shipping_fee_yuan"] == "6.50"
    saved = await client.post(path, data=values | {"shipping_fee_yuan": "12"})
    assert saved.status_code == 303
    assert (await Product.get(id=book.id)).shipping_fee_fen == 1_200
    entry = await AuditEntry.get(action="product.update", object_id=book.id)
    assert (entry.before, entry.after) == ({"shipping_fee_fen": 650}, {"shipping_fee_fen": 1_200})
    refused = await client.post(path, data=values | {"shipping_fee_yuan": "十块"})
    assert refused.status_code == 422 and 'id="shipping_fee_yuan-error"' in refused.text
    emptied = await client.post(path, data=values | {"shipping_fee_yuan": ""})
    assert emptied.status_code == 303
    assert (await Product.get(id=book.id)).shipping_fee_fen == 0


@pytest.mark.postgres_only
async def test_the_release_before_still_holds_through_its_signature(app: Starlette) -> None:
    """For one release store_hold keeps its 16-parameter signature (no fee, no district code),
    so a host not yet upgraded goes on holding while the others are (rolling upgrades)."""
    from tortoise import connections

    drop = await store.create_product(
        title="旧版本也能抢", description="", category="周边", price_fen=5_000, stock=1,
        shipping_fee_fen=800,
    )  # fmt: skip
    buyer = await make_user()
    [row] = await connections.get("default").execute_query_dict(
        "SELECT * FROM store_hold($1, NULL::text, now(), $2, 1, NULL::integer, 5000, now(), "
        "now() + interval '10 minutes', 0, NULL::text, NULL::text, NULL::text, NULL::text, "
        "NULL::text, NULL::text)",
        [buyer.id, drop.id],
    )
    assert row["outcome"] == "held"
    order = await Order.get(id=row["held_order_id"])
    assert (order.total_fen, order.shipping_fee_fen) == (5_000, 0)
