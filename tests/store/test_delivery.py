"""Delivery (issue 37): staff ship with a carrier from the list and a tracking number, over the
API and the console; the order links to the parcel's tracking page; the buyer confirms receipt
(确认收货), or the job does it for them some days after shipping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.applications import Starlette

from accounts.models import Notification
from jobs.schedule import PERIODIC, JobContext
from settings import Settings
from store import carriers
from store import services as store
from store.models import Order, OrderEvent, OrderStatus
from tests.factories import bearer, csrf_from, make_user, paid_order, sign_in, token_for


async def a_paid_order(app: Starlette, settings: Settings) -> tuple[Order, object]:
    product = await store.create_product(
        title="《置身事内》", description="", category="图书", price_fen=6_500, stock=3
    )
    buyer = await make_user()
    order = await paid_order(app.state.payments_provider, settings, buyer, product.id)
    assert order.status == OrderStatus.PAID
    return order, buyer


async def test_staff_ship_over_the_api_and_the_order_links_to_its_tracking_page(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    order, buyer = await a_paid_order(app, settings)
    fulfil = bearer(await token_for(await make_user(role="admin")))
    shipped = await client.post(
        f"/api/v1/admin/orders/{order.id}/shipment",
        json={"carrier": "sf", "tracking_number": "SF1402738455092"},
        headers=fulfil,
    )
    assert shipped.status_code == 200
    body = shipped.json()
    assert {k: body[k] for k in ("id", "status", "carrier", "tracking_number")} == {
        "id": order.id,
        "status": "shipped",
        "carrier": "sf",
        "tracking_number": "SF1402738455092",
    }
    page = urlsplit(body["tracking_url"])
    assert (page.scheme, page.netloc) == ("https", "www.kuaidi100.com")
    assert parse_qs(page.query) == {"com": ["shunfeng"], "nu": ["SF1402738455092"]}
    got = await client.get(f"/api/v1/orders/{order.id}", headers=bearer(await token_for(buyer)))  # type: ignore[arg-type]
    assert (got.json()["carrier"], got.json()["tracking_url"]) == ("sf", body["tracking_url"])
    # Once only, a carrier from the list only, staff only.
    again = await client.post(
        f"/api/v1/admin/orders/{order.id}/shipment",
        json={"carrier": "sf", "tracking_number": "SF1402738455093"},
        headers=fulfil,
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "bad_order_state"
    unknown = await client.post(
        f"/api/v1/admin/orders/{order.id}/shipment",
        json={"carrier": "pigeon", "tracking_number": "SF1"},
        headers=fulfil,
    )
    assert unknown.status_code == 422
    buyer_token = bearer(await token_for(buyer))  # type: ignore[arg-type]
    refused = await client.post(
        f"/api/v1/admin/orders/{order.id}/shipment",
        json={"carrier": "jd", "tracking_number": "JD0001"},
        headers=buyer_token,
    )
    assert refused.status_code == 403


async def test_the_buyer_confirms_receipt_once_and_only_their_own_shipped_order(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    order, buyer = await a_paid_order(app, settings)
    mine = bearer(await token_for(buyer))  # type: ignore[arg-type]
    early = await client.post(f"/api/v1/orders/{order.id}/receipt-confirmation", headers=mine)
    assert early.status_code == 409 and early.json()["error"]["code"] == "bad_order_state"
    await store.mark_shipped(order_id=order.id, carrier="zto", tracking_number="7531000123")
    stranger = bearer(await token_for(await make_user()))
    theirs = await client.post(f"/api/v1/orders/{order.id}/receipt-confirmation", headers=stranger)
    assert theirs.status_code == 404
    confirmed = await client.post(f"/api/v1/orders/{order.id}/receipt-confirmation", headers=mine)
    assert confirmed.status_code == 200 and confirmed.json() == {
        "id": order.id,
        "status": "delivered",
    }
    twice = await client.post(f"/api/v1/orders/{order.id}/receipt-confirmation", headers=mine)
    assert twice.status_code == 409
    assert await Notification.filter(user_id=buyer.id, kind="order_delivered").count() == 1  # type: ignore[attr-defined]


async def test_the_order_page_shows_the_carrier_and_confirms_receipt(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    order, buyer = await a_paid_order(app, settings)
    await store.mark_shipped(order_id=order.id, carrier="ems", tracking_number="EA123456789CN")
    await sign_in(client, buyer.email)  # type: ignore[attr-defined]
    page = await client.get(f"/store/orders/{order.id}")
    assert "https://www.kuaidi100.com/chaxun?com=ems&amp;nu=EA123456789CN" in page.text
    assert "EMS" in page.text
    done = await client.post(
        f"/store/orders/{order.id}/received", data={"csrf_token": csrf_from(page.text)}
    )
    assert done.status_code == 303
    assert (await Order.get(id=order.id)).status == OrderStatus.DELIVERED
    again = await client.get(f"/store/orders/{order.id}")
    assert f"/store/orders/{order.id}/received" not in again.text


async def test_the_job_confirms_orders_shipped_long_enough_ago_and_leaves_the_rest(
    app: Starlette, settings: Settings
) -> None:
    now = datetime.now(UTC)
    old, _buyer = await a_paid_order(app, settings)
    recent, _other = await a_paid_order(app, settings)
    for order, carrier in ((old, "yto"), (recent, "sto")):
        await store.mark_shipped(order_id=order.id, carrier=carrier, tracking_number="YT0000000001")
    await Order.filter(id=old.id).update(shipped_at=now - timedelta(days=10, minutes=1))
    await Order.filter(id=recent.id).update(shipped_at=now - timedelta(days=9, hours=23))
    [job] = [job for job in PERIODIC if job.name == "store.confirm_received"]
    result = await job.run(JobContext(provider=app.state.payments_provider), now)
    assert result == {"confirmed": 1}
    assert (await Order.get(id=old.id)).status == OrderStatus.DELIVERED
    assert (await Order.get(id=recent.id)).status == OrderStatus.SHIPPED
    [event] = await OrderEvent.filter(order_id=old.id, status=OrderStatus.DELIVERED)
    assert event.note == "confirmed by itself"
    assert await job.run(JobContext(provider=app.state.payments_provider), now) is None
    # A shorter setting confirms the other one too.
    shorter = JobContext(provider=app.state.payments_provider, confirm_after_days=5)
    assert await job.run(shorter, now) == {"confirmed": 1}


def test_every_carrier_has_a_tracking_page_and_a_chinese_name() -> None:
    from translation import translations

    zh = translations("zh_CN").gettext
    for code, carrier in carriers.CARRIERS.items():
        url = carriers.tracking_url(code, "123456")
        assert url is not None and url.startswith("https://www.kuaidi100.com/chaxun?com=")
        assert zh(carrier.name) != carrier.name, code
    assert carriers.tracking_url("pigeon", "1") is None
    # The API's list of carriers is the same list (an order's answer must fit its schema).
    from typing import get_args

    from store.schemas import CarrierCode

    assert set(get_args(CarrierCode)) == set(carriers.CARRIERS)
    assert carriers.tracking_url("sf", None) is None


async def test_the_quantity_limit_is_said_beside_the_field_and_so_is_the_refusal(
    client: httpx.AsyncClient,
) -> None:
    product = await store.create_product(
        title="《生存处方》签名本", description="", category="图书", price_fen=8_800, stock=9,
        per_customer_limit=2,
    )  # fmt: skip
    buyer = await make_user()
    await sign_in(client, buyer.email or "")
    page = await client.get(f"/store/products/{product.id}")
    assert 'id="quantity-limit"' in page.text and "每人最多 2 件" in page.text
    csrf = csrf_from(page.text)
    over = await client.post(
        f"/store/products/{product.id}/buy", data={"csrf_token": csrf, "quantity": "3"}
    )
    assert over.status_code == 409
    assert 'id="quantity-error"' in over.text and 'aria-invalid="true"' in over.text
    assert 'value="3"' in over.text  # what was typed stays
    nonsense = await client.post(
        f"/store/products/{product.id}/buy",
        data={"csrf_token": csrf, "quantity": "0"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert nonsense.status_code == 422
    error = nonsense.text[nonsense.text.index('id="quantity-error"') :][:200]
    assert "quantity:" not in error and "不能小于 1" in error  # its reason, in Chinese
    ok = await client.post(
        f"/store/products/{product.id}/buy", data={"csrf_token": csrf, "quantity": "2"}
    )
    assert ok.status_code == 303


async def test_checkout_shows_each_wallets_mark_beside_its_name(client: httpx.AsyncClient) -> None:
    product = await store.create_product(
        title="书签", description="", category="文创", price_fen=1_000, stock=3
    )
    buyer = await make_user()
    await sign_in(client, buyer.email or "")
    page = await client.get(f"/store/products/{product.id}")
    bought = await client.post(
        f"/store/products/{product.id}/buy",
        data={"csrf_token": csrf_from(page.text), "quantity": "1"},
    )
    checkout = await client.get(bought.headers["location"])
    for mark, colour in (("wechat", b"#07C160"), ("alipay", b"#1677FF")):
        path = f"/static/vendor/simple-icons/{mark}.svg"
        assert f'<img class="method-mark" src="{path}"' in checkout.text
        svg = await client.get(path)
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert colour in svg.content  # in its brand's colour
    assert 'class="method-name"' in checkout.text
