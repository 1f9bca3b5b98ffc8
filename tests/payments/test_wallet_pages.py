"""The checkout and waiting pages of WeChat Pay and Alipay, as each kind of browser sees them: a
computer (the QR code large), a phone (pay from another device), WeChat's own browser (no
Alipay, no code to scan on its own screen). Through the real app, signed in by its form."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from payments.models import Payment, PaymentStatus
from ratelimit import MemoryCounter
from store import services as store
from store.models import Order, OrderStatus
from tests.factories import SHIPPING, address, csrf_from, make_user, make_window, sign_in

DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
WECHAT = PHONE + " MicroMessenger/8.0.50(0x1800323a) NetType/WIFI Language/zh_CN"


async def _held_order(buyer: object) -> Order:
    product = await store.create_product(
        title="罗辑思维 · 笔记本", description="", category="文具", price_fen=3_900, stock=3
    )
    return await store.place_order(
        buyer=buyer,  # type: ignore[arg-type]
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )


async def _checkout(client: httpx.AsyncClient, path: str, agent: str) -> httpx.Response:
    page = await client.get(path, headers={"User-Agent": agent, "Accept-Language": "zh-CN"})
    assert page.status_code == 200
    return page


async def _choose_wechat_pay(
    client: httpx.AsyncClient, order: Order, agent: str, *, script: bool = False
) -> httpx.Response:
    """The checkout form posted with WeChat Pay chosen: by its script (JSON back) or without."""
    checkout = await _checkout(client, f"/store/orders/{order.id}/pay", agent)
    return await client.post(
        f"/store/orders/{order.id}/pay",
        data={
            "csrf_token": csrf_from(checkout.text),
            "method": "wechat_pay",
            **{f"shipping.{key}": value for key, value in SHIPPING.items()},
        },
        headers={"User-Agent": agent, **({"Accept": "application/json"} if script else {})},
    )


def _methods(html: str) -> list[str]:
    return re.findall(r'name="method" value="([a-z_]+)"', html)


async def test_checkout_offers_the_three_methods_and_hides_alipay_inside_wechat(
    client: httpx.AsyncClient,
) -> None:
    buyer = await make_user()
    order = await _held_order(buyer)
    await sign_in(client, buyer.email)
    desktop = await _checkout(client, f"/store/orders/{order.id}/pay", DESKTOP)
    assert _methods(desktop.text) == ["wechat_pay", "alipay", "card"]  # WeChat Pay first
    assert "微信支付" in desktop.text and "支付宝" in desktop.text
    inside = await _checkout(client, f"/store/orders/{order.id}/pay", WECHAT)
    assert _methods(inside.text) == ["wechat_pay", "card"]
    assert "微信内置浏览器" in inside.text


async def test_wechat_pay_from_a_computer_shows_the_code_large_until_paid(
    client: httpx.AsyncClient,
) -> None:
    buyer = await make_user()
    order = await _held_order(buyer)
    await sign_in(client, buyer.email)
    # The checkout form without its script: the post goes on to the waiting page.
    posted = await _choose_wechat_pay(client, order, DESKTOP)
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/store/orders/{order.id}/paying"
    payment = await Payment.get(id=(await Order.get(id=order.id)).payment_id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION

    page = await client.get(
        posted.headers["location"], headers={"User-Agent": DESKTOP, "Accept-Language": "zh-CN"}
    )
    assert page.status_code == 200
    assert f'src="/payments/{payment.id}/qr.svg"' in page.text
    assert "打开微信，点“扫一扫”" in page.text and "¥39.00" in page.text
    assert f'data-status="/store/orders/{order.id}/status"' in page.text
    assert f'data-done="/store/orders/{order.id}/receipt"' in page.text
    # The page's script asks our own status URL, never the provider.
    status = await client.get(
        f"/store/orders/{order.id}/status", headers={"Accept": "application/json"}
    )
    assert status.json() == {"status": "pending"}

    order_page = await client.get(f"/store/orders/{order.id}", headers={"Accept-Language": "zh-CN"})
    assert "继续用微信支付付款" in order_page.text  # the way back to the code


async def test_wechat_pay_on_a_phone_offers_the_hosted_page_and_inside_wechat_says_why_not(
    client: httpx.AsyncClient,
) -> None:
    buyer = await make_user()
    order = await _held_order(buyer)
    await sign_in(client, buyer.email)
    answer = await _choose_wechat_pay(client, order, PHONE, script=True)
    assert answer.json() == {"status": "redirect", "redirect": f"/store/orders/{order.id}/paying"}
    phone = await client.get(
        f"/store/orders/{order.id}/paying",
        headers={"User-Agent": PHONE, "Accept-Language": "zh-CN"},
    )
    assert "在另一台设备" in phone.text
    assert re.search(
        r'href="http://127\.0\.0\.1:\d+/_wallet/wechat_pay/pi_\w+/instructions"', phone.text
    )
    inside = await client.get(
        f"/store/orders/{order.id}/paying",
        headers={"User-Agent": WECHAT, "Accept-Language": "zh-CN"},
    )
    assert "微信内置浏览器" in inside.text and "qr.svg" not in inside.text
    assert "换一种方式付款" in inside.text  # card is one click away


async def test_alipay_from_the_checkout_script_goes_to_alipay_and_a_form_to_our_page(
    client: httpx.AsyncClient, settings: object
) -> None:
    buyer = await make_user()
    window = await make_window(now=datetime.now(UTC), seats=3)
    await sign_in(client, buyer.email)
    page = await client.get("/membership", headers={"Accept-Language": "zh-CN"})
    enrolled = await client.post(
        f"/membership/windows/{window.id}/enroll", data={"csrf_token": csrf_from(page.text)}
    )
    assert enrolled.status_code == 303, enrolled.text
    checkout_path = enrolled.headers["location"]
    checkout = await _checkout(client, checkout_path, DESKTOP)
    assert _methods(checkout.text) == ["wechat_pay", "alipay", "card"]
    answer = await client.post(
        checkout_path,
        data={"csrf_token": csrf_from(checkout.text), "method": "alipay"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/_wallet/alipay/pi_\w+", answer.json()["redirect"])
    # The buyer goes back before paying: the waiting page links to Alipay again.
    enrollment_id = checkout_path.split("/")[3]
    waiting = await client.get(
        f"/membership/enrollments/{enrollment_id}/paying", headers={"Accept-Language": "zh-CN"}
    )
    assert waiting.status_code == 200
    assert (
        f'href="{answer.json()["redirect"]}"' in waiting.text and "前往支付宝付款" in waiting.text
    )


async def test_the_admin_payments_list_shows_each_method(client: httpx.AsyncClient) -> None:
    admin = await make_user(admin=True)
    buyer = await make_user()
    order = await _held_order(buyer)
    await Payment.create(
        user_id=buyer.id,
        purpose="order",
        subject_id=str(order.id),
        amount_fen=order.total_fen,
        method="alipay",
        status=PaymentStatus.FAILED,
    )
    await sign_in(client, admin.email)
    page = await client.get("/admin/payments?method=alipay", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert 'class="method-alipay">支付宝' in page.text
    none = await client.get(
        "/admin/payments?method=wechat_pay", headers={"Accept-Language": "zh-CN"}
    )
    assert "没有符合条件的付款" in none.text
    assert (await client.get("/admin/payments?method=paypal")).status_code == 422
    await sign_in(client, buyer.email)
    assert (await client.get("/admin/payments")).status_code == 403
    assert (await Order.get(id=order.id)).status == OrderStatus.PENDING_PAYMENT


async def test_the_waiting_pages_poll_asks_the_provider_at_most_every_few_seconds(
    client: httpx.AsyncClient,
) -> None:
    """Thousands waiting on QR codes must not become thousands of provider calls: the poll
    reads our own record, which the webhook settles; the provider is asked once per
    WALLET_ASK_EVERY at most (here the webhook is lost, so that question settles it)."""
    from datetime import timedelta

    from payments.services import WALLET_ASK_EVERY
    from tests.payments.test_wallets import press

    buyer = await make_user()
    order = await _held_order(buyer)
    await sign_in(client, buyer.email)
    await _choose_wechat_pay(client, order, DESKTOP)
    assert (await client.get(f"/store/orders/{order.id}/paying")).status_code == 200  # asks
    payment = await Payment.get(id=(await Order.get(id=order.id)).payment_id)
    assert payment.action_url is not None
    await press(payment.action_url, "pay")  # paid at the provider; no webhook comes
    status = f"/store/orders/{order.id}/status"
    for _ in range(3):
        assert (await client.get(status)).json() == {"status": "pending"}  # not asked again
    asked = (await Payment.get(id=payment.id)).asked_at
    assert asked is not None
    # WALLET_ASK_EVERY later (the clock moved on): the next poll asks, and the order is paid.
    await Payment.filter(id=payment.id).update(
        asked_at=asked - WALLET_ASK_EVERY - timedelta(seconds=1)
    )
    assert (await client.get(status)).json()["status"] == "paid"
