"""A buyer asks for a refund and an admin decides, through the real app and the real
localstripe: approved (the money goes back, once, however many admins click), refused (with a
note the buyer reads), one open request per order, only for paid orders."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from starlette.applications import Starlette

from accounts.models import Notification
from payments.models import Payment, PaymentStatus
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus, RefundRequest
from tests.factories import (
    address,
    bearer,
    csrf_from,
    make_user,
    sign_in,
    token_for,
)
from tests.factories import paid_order as pay


async def paid_order(app: Starlette, settings: Settings, email: str) -> Order:
    product = await store.create_product(
        title="书院帆布袋", description="", category="逼格工场", price_fen=9_900, stock=5
    )
    buyer = await make_user(email=email)
    return await pay(app.state.payments_provider, settings, buyer, product.id)


async def test_a_buyer_asks_on_the_order_page_and_an_admin_approves_once(
    app: Starlette, settings: Settings, client: httpx.AsyncClient
) -> None:
    order = await paid_order(app, settings, "buyer@example.cn")
    await sign_in(client, "buyer@example.cn")
    page = await client.get(f"/store/orders/{order.id}")
    assert "申请退款" in page.text
    asked = await client.post(
        f"/store/orders/{order.id}/refund-request",
        data={"reason": "尺寸不合适", "csrf_token": csrf_from(page.text)},
    )
    assert asked.status_code == 303
    page = await client.get(f"/store/orders/{order.id}")
    assert 'data-refund="requested"' in page.text
    again = await client.post(
        f"/api/v1/orders/{order.id}/refund-request",
        json={"reason": "再问一次"},
        headers=bearer(await token_for(await order.user)),
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "refund_requested"

    admin_headers = bearer(await token_for(await make_user(admin=True)))
    waiting = (await client.get("/api/v1/admin/refund-requests", headers=admin_headers)).json()
    [request] = waiting["items"]
    assert request["order_id"] == order.id and request["reason"] == "尺寸不合适"
    # Two admins at once: one refund.
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/admin/refund-requests/{request['id']}/approve", headers=admin_headers
            )
            for _ in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 404]
    payment = await Payment.get(id=order.payment_id)
    assert payment.status == PaymentStatus.REFUNDED
    assert (await Order.get(id=order.id)).status == OrderStatus.REFUNDED
    assert await Notification.filter(user_id=order.user_id, kind="refund_approved").count() == 1  # type: ignore[attr-defined]


async def test_a_refused_request_tells_the_buyer_why_and_they_may_ask_again(
    app: Starlette, settings: Settings, client: httpx.AsyncClient
) -> None:
    order = await paid_order(app, settings, "buyer@example.cn")
    buyer_headers = bearer(await token_for(await order.user))
    asked = await client.post(
        f"/api/v1/orders/{order.id}/refund-request",
        json={"reason": "不想要了"},
        headers=buyer_headers,
    )
    assert asked.status_code == 201
    admin_headers = bearer(await token_for(await make_user(admin=True)))
    empty_note = await client.post(
        f"/api/v1/admin/refund-requests/{asked.json()['id']}/refuse",
        json={"note": "   "},
        headers=admin_headers,
    )
    assert empty_note.status_code == 422
    refused = await client.post(
        f"/api/v1/admin/refund-requests/{asked.json()['id']}/refuse",
        json={"note": "定制商品不退"},
        headers=admin_headers,
    )
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID  # no money moved
    inbox = (await client.get("/api/v1/notifications", headers=buyer_headers)).json()
    assert any("定制商品不退" in n["text"] for n in inbox["items"])
    await sign_in(client, "buyer@example.cn")
    page = await client.get(f"/store/orders/{order.id}")
    assert 'data-refund="refused"' in page.text and "定制商品不退" in page.text
    assert "申请退款" in page.text  # may ask again
    assert await RefundRequest.filter(order_id=order.id).count() == 1


async def test_an_unpaid_or_someone_elses_order_cannot_be_asked_for(
    client: httpx.AsyncClient,
) -> None:
    buyer = await make_user()
    product = await store.create_product(
        title="笔记本", description="", category="文具", price_fen=1_000, stock=5
    )
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    unpaid = await client.post(
        f"/api/v1/orders/{order.id}/refund-request",
        json={"reason": "还没付"},
        headers=bearer(await token_for(buyer)),
    )
    assert unpaid.status_code == 409 and unpaid.json()["error"]["code"] == "bad_order_state"
    theirs = await client.post(
        f"/api/v1/orders/{order.id}/refund-request",
        json={"reason": "别人的"},
        headers=bearer(await token_for(await make_user())),
    )
    assert theirs.status_code == 404
