"""Every staff action of the store is an audit entry: who, what, the object, before and after;
a refund the provider could not make is recorded too."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from accounts.models import AuditEntry, User
from app import create_app
from composition import AppWiring
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus, Product, RaffleEntry, RefundRequest
from tests.factories import SHIPPING, bearer, make_user, paid_order, token_for
from tests.payments.memory_provider import MemoryProvider


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 800), (180, 69, 31)).save(out, "PNG")
    return out.getvalue()


async def goods(**changes: object) -> Product:
    fields: dict[str, object] = {
        "title": "书院帆布袋",
        "description": "",
        "category": "逼格工场",
        "price_fen": 9_900,
        "stock": 3,
    }
    return await store.create_product(**(fields | changes))  # type: ignore[arg-type]


async def entry_of(action: str) -> AuditEntry:
    entries = await AuditEntry.filter(action=action)
    assert len(entries) == 1, f"{action}: {len(entries)} entries"
    return entries[0]


async def test_a_product_made_through_the_api_is_recorded_whole(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(admin=True)
    made = await client.post(
        "/api/v1/admin/products",
        json={
            "title": "限量台历",
            "description": "",
            "category": "周边",
            "price_fen": 12_800,
            "stock": 10,
            "per_customer_limit": 1,
        },
        headers=bearer(await token_for(admin)),
    )
    assert made.status_code == 201
    entry = await entry_of("product.create")
    assert entry.actor_id == admin.id
    assert (entry.object_type, entry.object_id) == ("product", str(made.json()["id"]))
    assert entry.before is None
    assert entry.after["title"] == "限量台历" and entry.after["category"] == "周边"
    assert entry.after["price_fen"] == 12_800 and entry.after["per_customer_limit"] == 1
    assert entry.after["published"] is True


async def test_a_picture_is_recorded_before_and_after(client: httpx.AsyncClient) -> None:
    product = await goods()
    admin = await make_user(admin=True)
    answer = await client.post(
        f"/api/v1/admin/products/{product.id}/image",
        files={"image": ("bag.png", png(), "image/png")},
        headers=bearer(await token_for(admin)),
    )
    assert answer.status_code == 200
    entry = await entry_of("product.image")
    assert entry.actor_id == admin.id
    assert entry.before == {"image": None}
    assert entry.after == {"image": f"product-{product.id}"}


async def test_a_raffle_drawn_by_the_app_itself_is_recorded_without_an_actor() -> None:
    raffle = await goods(raffle_entries_until=datetime.now(UTC) + timedelta(minutes=5))
    for _ in range(2):
        await RaffleEntry.create(product_id=raffle.id, user_id=(await make_user()).id)
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert await store.draw_due_raffles(now=later) == 1
    entry = await entry_of("raffle.draw")
    assert entry.actor_id is None
    assert entry.before == {"raffle_drawn_at": None}
    assert entry.after["entries"] == 2 and len(entry.after["winners"]) == 2
    assert entry.after["raffle_seed"] == (await Product.get(id=raffle.id)).raffle_seed


async def test_shipping_and_refunding_an_order_are_recorded(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    product = await goods()
    order = await paid_order(app.state.payments_provider, settings, await make_user(), product.id)
    admin = await make_user(admin=True)
    headers = bearer(await token_for(admin))
    await store.mark_shipped(
        order_id=order.id, carrier="sf", tracking_number="SF1234567890", actor=admin
    )
    ship = await entry_of("order.ship")
    assert ship.actor_id == admin.id and ship.object_id == str(order.id)
    assert ship.before == {"status": "paid", "tracking_number": None, "carrier": None}
    assert ship.after == {"status": "shipped", "tracking_number": "SF1234567890", "carrier": "sf"}

    refunded = await client.post(f"/api/v1/admin/orders/{order.id}/refund", headers=headers)
    assert refunded.status_code == 200, refunded.text
    refund = await entry_of("order.refund")
    assert refund.actor_id == admin.id
    # Recorded by payments.refund in the transaction that moves the order to refunded.
    assert refund.object_id == str(order.id)
    assert refund.before == {
        "payment_id": order.payment_id,
        "status": "succeeded",
        "refunded_fen": 0,
    }
    assert refund.after == {
        "payment_id": order.payment_id,
        "status": "refunded",
        "refunded_fen": 9_900,
        "refund_fen": 9_900,
    }
    assert (await Order.get(id=order.id)).status == OrderStatus.REFUNDED


async def test_refund_requests_approved_and_refused_are_recorded(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    product = await goods()
    provider = app.state.payments_provider
    orders = [await paid_order(provider, settings, await make_user(), product.id) for _ in "ab"]
    now = datetime.now(UTC)
    asked = [
        await store.refunds.ask(order_id=o.id, user=await o.user, reason="不想要了", now=now)
        for o in orders
    ]
    admin = await make_user(admin=True)
    headers = bearer(await token_for(admin))
    approved = await client.post(
        f"/api/v1/admin/refund-requests/{asked[0].id}/approve", headers=headers
    )
    assert approved.status_code == 200, approved.text
    refused = await client.post(
        f"/api/v1/admin/refund-requests/{asked[1].id}/refuse",
        json={"note": "定制商品不退"},
        headers=headers,
    )
    assert refused.status_code == 200
    approve = await entry_of("refund_request.approve")
    assert (approve.object_type, approve.object_id) == ("refund_request", str(asked[0].id))
    assert approve.before == {"status": "requested"}
    assert approve.after == {"status": "approved", "order": orders[0].id}
    assert (await entry_of("order.refund")).object_id == str(orders[0].id)
    refuse = await entry_of("refund_request.refuse")
    assert refuse.actor_id == admin.id
    assert refuse.before == {"status": "requested"}
    assert refuse.after == {"status": "refused", "note": "定制商品不退"}


@pytest.fixture
async def memory_app(settings: Settings, wired: AppWiring) -> AsyncIterator[Starlette]:
    app = create_app(
        settings,
        manage_database=False,
        background_tasks=False,
        wired=wired,
        payments_provider=MemoryProvider("pays"),
    )
    yield app
    await app.state.counter.aclose()
    await app.state.payments_provider.aclose()
    app.state.pictures.close()


async def test_a_refund_the_provider_cannot_make_is_recorded_and_changes_nothing(
    memory_app: Starlette,
) -> None:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        product = await goods()
        buyer: User = await make_user()
        buyer_headers = bearer(await token_for(buyer))
        held = await client.post(
            "/api/v1/orders",
            json={"items": [{"product_id": product.id, "quantity": 1}], "shipping": SHIPPING},
            headers=buyer_headers,
        )
        order_id = held.json()["id"]
        paid = await client.post(
            f"/api/v1/orders/{order_id}/payment",
            json={"payment_method": "pm_memory"},
            headers=buyer_headers,
        )
        assert paid.json()["status"] == "paid", paid.text
        asked = await store.refunds.ask(
            order_id=order_id, user=buyer, reason="坏了", now=datetime.now(UTC)
        )
        memory_app.state.payments_provider.answering = False  # the provider is cut off
        admin = await make_user(admin=True)
        headers = bearer(await token_for(admin))
        refused = await client.post(f"/api/v1/admin/orders/{order_id}/refund", headers=headers)
        assert refused.status_code == 503
        approve = await client.post(
            f"/api/v1/admin/refund-requests/{asked.id}/approve", headers=headers
        )
        assert approve.status_code == 503
    failed = await AuditEntry.filter(action="order.refund_failed").order_by("id")
    assert len(failed) == 2
    assert all(e.actor_id == admin.id and e.object_id == str(order_id) for e in failed)
    assert failed[0].before["status"] == "succeeded" and failed[0].before["refunded_fen"] == 0
    assert failed[0].after["error"] == "payment_unavailable"
    assert (
        await AuditEntry.filter(action__in=["order.refund", "refund_request.approve"]).count() == 0
    )
    assert (await Order.get(id=order_id)).status == OrderStatus.PAID
    assert (await RefundRequest.get(id=asked.id)).status == "requested"  # open for another try
