"""The catalogue managed through the API: a product changed field by field, its stock moved,
deleted, taken down and published again; what may not change once people ordered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from accounts.models import AuditEntry
from payments.models import Payment
from payments.provider import PaymentProvider
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.errors import SoldOut
from store.models import Order, OrderItem, OrderStatus, Product, StockUnit
from tests.factories import (
    address,
    bearer,
    card_payment_method,
    make_user,
    paid_order,
    token_for,
)

LATER = datetime(2030, 6, 1, 2, tzinfo=UTC)
ENTRIES_UNTIL = "2030-05-01T02:00:00Z"


async def admin_headers() -> dict[str, str]:
    return bearer(await token_for(await make_user(admin=True)))


async def goods(**changes: Any) -> Product:
    fields: dict[str, Any] = {
        "title": "黄铜书签",
        "description": "手工",
        "category": "逼格工场",
        "price_fen": 9_900,
        "stock": 5,
    }
    return await store.create_product(**(fields | changes))


async def hold(product: Product, quantity: int = 1) -> Order:
    return await store.place_order(
        buyer=await make_user(),
        items=[store.Wanted(product.id, quantity)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )


# One field at a time: what is sent, and what the answer and the audit entry hold for it.
CHANGES = [
    ("title", "黄铜书签 · 第二版", "title", "黄铜书签 · 第二版"),
    ("description", "新的描述", "description", "新的描述"),
    ("category", "文具精选", "category", "文具精选"),
    ("price_fen", 12_900, "price_fen", 12_900),
    ("per_person_limit", 2, "per_customer_limit", 2),
    ("member_head_start_minutes", 30, "member_head_start_minutes", 30),
    ("sale_starts_at", "2030-06-01T02:00:00Z", "sale_starts_at", "2030-06-01T02:00:00Z"),
    ("sale_ends_at", "2030-07-01T02:00:00Z", "sale_ends_at", "2030-07-01T02:00:00Z"),
    ("requires_shipping", False, "requires_shipping", False),
    (
        "raffle_entries_until",
        "2030-05-01T02:00:00Z",
        "raffle_entries_until",
        "2030-05-01T02:00:00Z",
    ),
    ("raffle_purchase_minutes", 90, "raffle_purchase_minutes", 90),
]


@pytest.mark.parametrize(("sent", "value", "recorded", "kept"), CHANGES)
async def test_each_field_changes_by_patch_with_an_audit_entry_of_that_field_only(
    client: httpx.AsyncClient, sent: str, value: object, recorded: str, kept: object
) -> None:
    product = await goods(sale_starts_at=LATER - timedelta(days=1))
    headers = await admin_headers()
    answer = await client.patch(
        f"/api/v1/admin/products/{product.id}", json={sent: value}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    answer_name = "per_customer_limit" if sent == "per_person_limit" else sent
    assert shown[answer_name] == value
    entry = await AuditEntry.get(action="product.update")
    assert entry.object_type == "product" and entry.object_id == str(product.id)
    assert list(entry.after) == [recorded] and entry.after[recorded] == kept
    assert list(entry.before) == [recorded] and entry.before[recorded] != kept


async def test_null_clears_a_limit_and_a_field_given_as_it_is_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    product = await goods(per_customer_limit=2)
    headers = await admin_headers()
    same = await client.patch(
        f"/api/v1/admin/products/{product.id}", json={"title": "黄铜书签"}, headers=headers
    )
    assert same.status_code == 200
    assert await AuditEntry.filter(action="product.update").count() == 0
    cleared = await client.patch(
        f"/api/v1/admin/products/{product.id}", json={"per_person_limit": None}, headers=headers
    )
    assert cleared.json()["per_customer_limit"] is None
    assert (await Product.get(id=product.id)).per_customer_limit is None


async def test_a_bad_value_is_422_naming_its_field(client: httpx.AsyncClient) -> None:
    product = await goods(sale_starts_at=LATER)
    headers = await admin_headers()
    zero = await client.patch(
        f"/api/v1/admin/products/{product.id}", json={"price_fen": 0}, headers=headers
    )
    assert zero.status_code == 422
    backwards = await client.patch(
        f"/api/v1/admin/products/{product.id}",
        json={"sale_ends_at": "2030-05-01T00:00:00Z"},
        headers=headers,
    )
    assert backwards.status_code == 422 and backwards.json()["error"]["field"] == "sale_ends_at"
    assert (await Product.get(id=product.id)).sale_ends_at is None


async def test_sale_times_change_before_the_sale_opens_and_not_after(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin_headers()
    upcoming = await goods(sale_starts_at=datetime.now(UTC) + timedelta(hours=2))
    moved = await client.patch(
        f"/api/v1/admin/products/{upcoming.id}",
        json={"sale_starts_at": "2030-06-01T02:00:00Z"},
        headers=headers,
    )
    assert moved.status_code == 200
    opened = await goods(sale_starts_at=datetime.now(UTC) - timedelta(minutes=1))
    for body in (
        {"sale_starts_at": "2030-06-01T02:00:00Z"},
        {"sale_ends_at": None},
        {"sale_ends_at": "2030-06-01T02:00:00Z"},
    ):
        refused = await client.patch(
            f"/api/v1/admin/products/{opened.id}", json=body, headers=headers
        )
        if body == {"sale_ends_at": None}:  # already none: nothing changes, nothing refused
            assert refused.status_code == 200
            continue
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "product_has_orders"
    # Members' head start counts: their sale opened already.
    early = await goods(
        sale_starts_at=datetime.now(UTC) + timedelta(minutes=10), member_head_start_minutes=30
    )
    refused = await client.patch(
        f"/api/v1/admin/products/{early.id}",
        json={"sale_starts_at": "2030-06-01T02:00:00Z"},
        headers=headers,
    )
    assert refused.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"requires_shipping": False},
        {"raffle_entries_until": "2030-05-01T02:00:00Z"},
        {"raffle_purchase_minutes": 30},
    ],
)
async def test_shipping_and_raffle_fields_are_409_once_anyone_ordered(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    product = await goods()
    order = await hold(product)
    await store.cancel_order(
        provider=client._transport.app.state.payments_provider,  # type: ignore[attr-defined]
        order_id=order.id,
        user=await order.user,
        now=datetime.now(UTC),
    )  # given back: the product was still ordered once
    refused = await client.patch(
        f"/api/v1/admin/products/{product.id}", json=body, headers=await admin_headers()
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "product_has_orders"
    assert (await Product.get(id=product.id)).requires_shipping is True


async def test_a_price_edit_leaves_a_held_order_at_its_price_and_paying_charges_that(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    product = await goods(price_fen=9_900)
    buyer = await make_user()
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product.id, 2)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    edited = await client.patch(
        f"/api/v1/admin/products/{product.id}",
        json={"price_fen": 19_900},
        headers=await admin_headers(),
    )
    assert edited.json()["price_fen"] == 19_900
    assert (await Order.get(id=order.id)).total_fen == 19_800
    assert (await OrderItem.get(order_id=order.id)).unit_price_fen == 9_900
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
    assert (await Payment.get(id=paid.payment_id)).amount_fen == 19_800
    # A new order pays the new price.
    later = await hold(product)
    assert later.total_fen == 19_900


async def test_stock_is_added_after_the_highest_unit_and_removed_from_free_ones(
    client: httpx.AsyncClient,
) -> None:
    product = await goods(stock=3)
    headers = await admin_headers()
    await hold(product, 2)
    added = await client.post(
        f"/api/v1/admin/products/{product.id}/stock", json={"change": 4}, headers=headers
    )
    assert added.status_code == 200
    assert added.json() == {"stock": 7, "stock_left": 5}
    numbers = await StockUnit.filter(product_id=product.id).values_list("number", flat=True)
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6, 7]
    removed = await client.post(
        f"/api/v1/admin/products/{product.id}/stock", json={"change": -5}, headers=headers
    )
    assert removed.json() == {"stock": 2, "stock_left": 0}
    assert await StockUnit.filter(product_id=product.id).count() == 2  # the two held
    assert (await Product.get(id=product.id)).stock == 2
    nothing = await client.post(
        f"/api/v1/admin/products/{product.id}/stock", json={"change": 0}, headers=headers
    )
    assert nothing.json() == {"stock": 2, "stock_left": 0}
    entries = await AuditEntry.filter(action="product.stock").order_by("id")
    assert [(e.before, e.after) for e in entries] == [
        ({"stock": 3}, {"stock": 7, "change": 4}),
        ({"stock": 7}, {"stock": 2, "change": -5}),
    ]


async def test_removing_units_that_are_sold_or_held_is_409_and_removes_none(
    client: httpx.AsyncClient,
) -> None:
    product = await goods(stock=3)
    await hold(product, 2)
    refused = await client.post(
        f"/api/v1/admin/products/{product.id}/stock",
        json={"change": -2},
        headers=await admin_headers(),
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "stock_below_committed"
    assert await StockUnit.filter(product_id=product.id).count() == 3
    assert (await Product.get(id=product.id)).stock == 3
    assert await AuditEntry.filter(action="product.stock").count() == 0


async def test_a_restock_clears_the_sold_out_memory(client: httpx.AsyncClient) -> None:
    product = await goods(stock=1)
    memory = client._transport.app.state.memory.store  # type: ignore[attr-defined]
    await store.place_order(
        buyer=await make_user(),
        items=[store.Wanted(product.id, 1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        memory=memory,
        shipping=address(),
    )
    with pytest.raises(SoldOut):
        await store.place_order(
            buyer=await make_user(),
            items=[store.Wanted(product.id, 1)],
            now=datetime.now(UTC),
            counter=MemoryCounter(),
            memory=memory,
            shipping=address(),
        )
    assert memory.known_sold_out([product.id]) is not None
    await client.post(
        f"/api/v1/admin/products/{product.id}/stock",
        json={"change": 1},
        headers=await admin_headers(),
    )
    assert memory.known_sold_out([product.id]) is None
    again = await store.place_order(
        buyer=await make_user(),
        items=[store.Wanted(product.id, 1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        memory=memory,
        shipping=address(),
    )
    assert again.status == OrderStatus.PENDING_PAYMENT


async def test_a_product_never_ordered_is_deleted_and_one_ordered_is_409(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin_headers()
    unsold = await goods()
    deleted = await client.delete(f"/api/v1/admin/products/{unsold.id}", headers=headers)
    assert deleted.status_code == 204
    assert not await Product.exists(id=unsold.id)
    assert await StockUnit.filter(product_id=unsold.id).count() == 0
    entry = await AuditEntry.get(action="product.delete")
    assert entry.before["title"] == "黄铜书签" and entry.before["stock"] == 5
    assert entry.after is None
    gone = await client.get(f"/api/v1/products/{unsold.id}")
    assert gone.status_code == 404

    sold = await goods()
    await hold(sold)
    refused = await client.delete(f"/api/v1/admin/products/{sold.id}", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "product_has_orders"
    assert await StockUnit.filter(product_id=sold.id).count() == 5  # nothing taken away


async def test_an_unpublished_product_is_hidden_and_refused_while_a_held_order_still_pays(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    product = await goods()
    held = await hold(product)
    headers = await admin_headers()
    down = await client.patch(
        f"/api/v1/admin/products/{product.id}", json={"published": False}, headers=headers
    )
    assert down.status_code == 200
    assert down.json()["published"] is False and down.json()["sale_state"] == "unpublished"
    listed = (await client.get("/api/v1/products")).json()["items"]
    assert product.id not in [p["id"] for p in listed]
    assert (await client.get(f"/api/v1/products/{product.id}")).status_code == 404
    assert (await client.get(f"/store/products/{product.id}")).status_code == 404
    assert "黄铜书签" not in (await client.get("/store")).text
    # Staff who may change the catalogue preview it.
    assert (await client.get(f"/api/v1/products/{product.id}", headers=headers)).status_code == 200
    # Nobody holds it anew, through the API or a page's service.
    buyer_token = await token_for(await make_user())
    refused = await client.post(
        "/api/v1/orders",
        json={"items": [{"product_id": product.id, "quantity": 1}], "shipping": None},
        headers=bearer(buyer_token),
    )
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "product_not_found"
    # The order held before pays.
    await store.pay_order(
        provider=provider,
        order_id=held.id,
        user=await held.user,
        choice=PaymentChoice(
            payment_method=await card_payment_method(settings, "4242424242424242")
        ),
        now=datetime.now(UTC),
    )
    assert (await Order.get(id=held.id)).status == OrderStatus.PAID
    entry = await AuditEntry.get(action="product.unpublish")
    assert (entry.before, entry.after) == ({"published": True}, {"published": False})
    up = await client.patch(
        f"/api/v1/admin/products/{product.id}", json={"published": True}, headers=headers
    )
    assert up.json()["published"] is True
    assert await AuditEntry.filter(action="product.publish").count() == 1
    assert (await client.get(f"/api/v1/products/{product.id}")).status_code == 200


async def test_staff_without_the_catalogue_may_not_change_products(
    client: httpx.AsyncClient,
) -> None:
    product = await goods()
    support = bearer(await token_for(await make_user(role="support")))
    for method, path, body in [
        ("PATCH", f"/api/v1/admin/products/{product.id}", {"title": "x"}),
        ("POST", f"/api/v1/admin/products/{product.id}/stock", {"change": 1}),
        ("DELETE", f"/api/v1/admin/products/{product.id}", None),
        ("GET", "/api/v1/admin/products", None),
    ]:
        answer = await client.request(method, path, json=body, headers=support)
        assert answer.status_code == 403, (method, path)
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
    assert (await Product.get(id=product.id)).title == "黄铜书签"


async def test_the_staff_listing_holds_unpublished_products_newest_first(
    client: httpx.AsyncClient,
) -> None:
    first = await goods(title="一")
    second = await goods(title="二", published=False)
    listed = await client.get("/api/v1/admin/products", headers=await admin_headers())
    assert [p["id"] for p in listed.json()["items"]] == [second.id, first.id]


async def test_a_paid_order_keeps_the_price_it_was_paid_at(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    product = await goods(price_fen=5_000)
    paid = await paid_order(provider, settings, await make_user(), product.id)
    await client.patch(
        f"/api/v1/admin/products/{product.id}",
        json={"price_fen": 6_000},
        headers=await admin_headers(),
    )
    assert (await Order.get(id=paid.id)).total_fen == 5_000
    assert (await OrderItem.get(order_id=paid.id)).unit_price_fen == 5_000
