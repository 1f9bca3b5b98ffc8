"""Store pages through the real app: listings, the product page, buying by form, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from accounts.models import Notification
from store import services as store
from store.models import Order
from tests.factories import csrf_from, make_user, sign_in

ZH = {"Accept-Language": "zh-CN"}


async def make_product(**overrides: object):  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {
        "title": "逻辑思维笔记本",
        "description": "",
        "category": "文具精选",
        "price_fen": 3_900,
        "stock": 4,
    }
    fields.update(overrides)
    return await store.create_product(**fields)  # type: ignore[arg-type]


async def test_the_listing_shows_new_hot_and_categories(client: httpx.AsyncClient) -> None:
    await make_product()
    await make_product(title="《精神粮食》", category="精神粮食", price_fen=6_800)
    page = await client.get("/store", headers=ZH)
    assert "本周上新" in page.text
    assert "¥39.00" in page.text
    assert "《精神粮食》" in page.text
    only = await client.get("/store", params={"category": "精神粮食"}, headers=ZH)
    assert "逻辑思维笔记本" not in only.text
    hot = await client.get("/store", params={"view": "hot"}, headers=ZH)
    assert hot.status_code == 200


async def test_an_upcoming_drop_counts_down_and_takes_reminders(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    drop = await make_product(sale_starts_at=now + timedelta(minutes=5))
    person = await make_user(email="qian@example.cn")
    await sign_in(client, "qian@example.cn")
    page = await client.get(f"/store/products/{drop.id}", headers=ZH)
    assert 'class="countdown"' in page.text
    assert "立即购买" not in page.text
    response = await client.post(
        f"/store/products/{drop.id}/remind", data={"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 303
    assert await store.send_drop_reminders(now=now) == 0
    assert await store.send_drop_reminders(now=now + timedelta(minutes=6)) == 1
    assert await store.send_drop_reminders(now=now + timedelta(minutes=7)) == 0
    assert await Notification.filter(user_id=person.id, kind="drop_open").count() == 1


async def test_buying_by_form_leads_to_checkout_and_limits_show_beside_the_quantity(
    client: httpx.AsyncClient,
) -> None:
    product = await make_product(per_customer_limit=1)
    await make_user(email="qian@example.cn")
    await sign_in(client, "qian@example.cn")
    page = await client.get(f"/store/products/{product.id}", headers=ZH)
    assert 'data-hx-get="/store/products/' in page.text
    response = await client.post(
        f"/store/products/{product.id}/buy",
        data={"csrf_token": csrf_from(page.text), "quantity": "1"},
    )
    order = await Order.get()
    assert response.headers["location"] == f"/store/orders/{order.id}/pay"
    checkout = await client.get(response.headers["location"], headers=ZH)
    assert "支付 ¥39.00" in checkout.text
    again = await client.post(
        f"/store/products/{product.id}/buy",
        data={"csrf_token": csrf_from(page.text), "quantity": "1"},
        headers=ZH,
    )
    assert again.status_code == 409  # the page again, the refusal beside the quantity
    error = again.text[again.text.index('id="quantity-error"') :]
    assert "超出每人限购数量" in error[:300]


async def test_checkout_validates_the_mainland_phone_number(client: httpx.AsyncClient) -> None:
    product = await make_product()
    buyer = await make_user(email="qian@example.cn")
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product.id, 1)],
        now=datetime.now(UTC),
        counter=client._transport.app.state.counter,  # type: ignore[attr-defined]
    )
    await sign_in(client, "qian@example.cn")
    page = await client.get(f"/store/orders/{order.id}/pay")
    assert 'name="shipping.province"' in page.text  # the order ships: the address is asked
    address = {
        "csrf_token": csrf_from(page.text),
        "shipping.name": "钱",
        "shipping.province": "上海市",
        "shipping.city": "上海市",
        "shipping.district": "徐汇区",
        "shipping.address": "漕溪北路 1 号",
        "payment_method": "pm_card_visa",
    }
    # The checkout's script asks for JSON, and hears errors in the API's shape.
    answer = await client.post(
        f"/store/orders/{order.id}/pay",
        data={**address, "shipping.phone": "010-1234"},
        headers={"Accept": "application/json", **ZH},
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_field", "shipping.phone")
    assert "手机号" in error["message"]  # in the reader's language
    paid = await client.post(
        f"/store/orders/{order.id}/pay",
        data={**address, "shipping.phone": "+86 138 1234 5678"},
        headers={"Accept": "application/json"},
    )
    assert paid.json()["status"] == "paid"
    saved = await Order.get(id=order.id)
    assert saved.ship_phone == "13812345678"
    assert (saved.ship_province, saved.ship_district) == ("上海市", "徐汇区")


async def test_a_hold_that_ran_out_is_over_on_its_checkout_page_and_for_the_pay_guard_alike(
    client: httpx.AsyncClient,
) -> None:
    # payments.held.Held.standing decides for both, before the release job has run.
    product = await make_product()
    buyer = await make_user(email="late@example.cn")
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product.id, 1)],
        now=datetime.now(UTC),
        counter=client._transport.app.state.counter,  # type: ignore[attr-defined]
    )
    await Order.filter(id=order.id).update(hold_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    await sign_in(client, "late@example.cn")
    page = await client.get(f"/store/orders/{order.id}/pay", headers={"Accept-Language": "en"})
    assert "hold has expired" in page.text
    token = csrf_from((await client.get("/account")).text)  # the expired checkout has no form
    answer = await client.post(
        f"/store/orders/{order.id}/pay",
        data={"csrf_token": token, "payment_method": "pm_card_visa"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "hold_expired"
