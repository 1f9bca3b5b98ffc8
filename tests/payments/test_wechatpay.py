"""WeChat Pay paid directly (API v3), through the app on a real port and the stand-in
(devserver/wechatpay.py) over real HTTP: its signatures, its encrypted notifications to our
notify URL, its buyer's pages.

Orders of events covered, in each flow (native on a computer, h5 in a phone's browser, jsapi
inside WeChat): paid with its notification; declined; abandoned until the hold runs out; the
notification lost (reconciliation asks WeChat); repeated; forged (a bad signature, another key,
an old timestamp, a ciphertext that does not decrypt, and a well-signed success WeChat does not
confirm); the buyer back before the notification; a success after the hold was released
(fulfilled again, or refunded in full when the units went to someone else); refunds, partial
and full; a close WeChat refuses.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette

from accounts.models import Identity, IdentityKind, Notification, User, WechatOpenid
from app import create_app
from composition import AppWiring, wire
from payments import services as payments
from payments.models import Payment, PaymentStatus, WebhookEvent
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus
from tests.conftest import WECHAT_OFFICIAL, WechatPayStandIn
from tests.factories import (
    PASSWORD,
    address,
    bearer,
    make_user,
    sign_in,
    token_for,
)
from tests.live import free_port
from tests.payments.conftest import serving
from tests.payments.test_wallets import eventually, held_order

PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
IN_WECHAT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/130.0 Mobile Safari/537.36 MicroMessenger/8.0.54.2760(0x28003637) "
    "NetType/WIFI Language/zh_CN"
)
COMPUTER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@dataclass
class Shop:
    """The app on a real port (WeChat Pay's notifications reach it there), paying WeChat Pay
    through the stand-in."""

    base: str
    app: Starlette
    settings: Settings
    wechatpay: WechatPayStandIn

    @property
    def provider(self) -> Any:
        return self.app.state.payments_provider

    def client(self, agent: str = COMPUTER) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, headers={"User-Agent": agent}, timeout=20)

    async def control(self, method: str, path: str, **body: Any) -> httpx.Response:
        async with httpx.AsyncClient(timeout=20) as http:
            return await http.request(
                method, f"{self.wechatpay.url}/_control/{path}", json=body or None
            )

    async def deliveries(self, out_trade_no: str) -> list[dict[str, Any]]:
        answer = (await self.control("GET", "deliveries")).json()
        rows = answer if isinstance(answer, list) else answer.get("deliveries", [])
        return [row for row in rows if row.get("out_trade_no") == out_trade_no]

    async def pay(self, out_trade_no: str, **body: Any) -> httpx.Response:
        return await self.control("POST", f"orders/{out_trade_no}/pay", **body)


@pytest.fixture
async def shop(
    settings: Settings, wired: AppWiring, wechatpay: WechatPayStandIn
) -> AsyncIterator[Shop]:
    port = free_port()
    configured = wechatpay.settings(settings, public_url=f"http://127.0.0.1:{port}")
    # Wired for its own public URL (links), bound for the test's own service calls too.
    own = wire(configured)
    app = create_app(configured, manage_database=False, background_tasks=False, wired=own)
    shop = Shop(f"http://127.0.0.1:{port}", app, configured, wechatpay)
    try:
        with own.wiring().bound():
            async with serving(app, port):
                yield shop
    finally:
        await shop.control("POST", "notifications", mode="deliver")
        await shop.control("POST", "close-refusal", seconds=0)
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()
        app.state.pictures.close()


async def pay_order(
    shop: Shop, order: Order, token: str, *, agent: str = COMPUTER, **choice: Any
) -> dict[str, Any]:
    async with shop.client(agent) as http:
        answer = await http.post(
            f"/api/v1/orders/{order.id}/payment",
            json={"method": "wechat_pay", **choice},
            headers=bearer(token),
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == "requires_action", body
    return body


async def intent_id(body: dict[str, Any]) -> str:
    payment = await Payment.get(id=body["payment_id"])
    assert payment.provider_intent_id is not None
    return payment.provider_intent_id


async def order_is(order: Order, status: OrderStatus) -> bool:
    return (await Order.get(id=order.id)).status == status


async def paid(order: Order) -> None:
    async def check() -> bool:
        return await order_is(order, OrderStatus.PAID)

    await eventually(check)


# ---- the three flows ------------------------------------------------------------------------


async def test_native_on_a_computer_shows_weixin_code_and_one_notification_pays(
    shop: Shop,
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    body = await pay_order(shop, order, token)
    action = body["next_action"]
    assert action["type"] == "wechat_pay_display_qr_code"
    assert action["qr_data"].startswith("weixin://wxpay/bizpayurl?pr=")
    assert action["hosted_instructions_url"] is None
    expires = datetime.fromisoformat(action["expires_at"])
    assert datetime.now(UTC) < expires <= order.hold_expires_at
    out_trade_no = await intent_id(body)
    assert out_trade_no.startswith("wxp")
    payment = await Payment.get(id=body["payment_id"])
    assert payment.flow == "native"

    held = (await shop.control("GET", f"orders/{out_trade_no}")).json()
    assert json.dumps(held, ensure_ascii=False).count("NATIVE") >= 1
    assert (await shop.pay(out_trade_no)).status_code == 200
    await paid(order)
    payment = await Payment.get(id=body["payment_id"])
    assert payment.status == PaymentStatus.SUCCEEDED and payment.action_url is None
    assert await WebhookEvent.filter(payment_id=payment.id).count() == 1

    async def answered() -> bool:
        return any(row.get("status_code") == 204 for row in await shop.deliveries(out_trade_no))

    await eventually(answered)  # the notification was taken with WeChat's 204


async def test_h5_in_a_phone_browser_goes_to_wechat_with_a_fresh_url_and_referrer_origin(
    shop: Shop,
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    body = await pay_order(shop, order, token, agent=PHONE)  # no flow: picked by the device
    action = body["next_action"]
    assert action["type"] == "redirect"
    ours = urlsplit(action["url"])
    assert f"{ours.scheme}://{ours.netloc}" == shop.base  # the public URL, never the Host
    assert ours.path == f"/payments/{body['payment_id']}/wechat-h5"
    payment = await Payment.get(id=body["payment_id"])
    assert payment.flow == "h5"

    async with shop.client(PHONE) as phone:
        first = await phone.get(action["url"], headers={"Referer": f"{shop.base}/store/"})
        second = await phone.get(action["url"])
        wrong = await phone.get(ours.path, params={"k": "not-the-key"})
    assert first.status_code == 303 and second.status_code == 303
    assert first.headers["referrer-policy"] == "origin"
    assert first.headers["location"] != second.headers["location"]  # each click its own
    h5_url = first.headers["location"]
    assert h5_url.startswith(f"{shop.wechatpay.url}/pay/h5?")
    back = parse_qs(urlsplit(h5_url).query)["redirect_url"][0]
    assert back == f"{shop.base}/store/orders/{order.id}/paying"
    assert wrong.status_code == 404

    async with httpx.AsyncClient(headers={"User-Agent": PHONE}) as wechat:
        foreign = await wechat.get(h5_url, headers={"Referer": "https://elsewhere.example/"})
        ours_page = await wechat.get(h5_url, headers={"Referer": f"{shop.base}/"})
    assert "商家参数格式有误" in foreign.text
    assert ours_page.status_code == 200 and "商家参数格式有误" not in ours_page.text

    # The scene_info WeChat was given: the phone's address (the trusted proxy's).
    held = (await shop.control("GET", f"orders/{await intent_id(body)}")).json()
    assert "127.0.0.1" in json.dumps(held)
    assert (await shop.pay(await intent_id(body))).status_code == 200
    await paid(order)


async def wechat_member(app_id: str = WECHAT_OFFICIAL.app_id) -> tuple[User, str]:
    """An account that signed in with WeChat's official account: its openid there."""
    user = await make_user()
    openid = "o" + secrets.token_hex(13)
    identity = await Identity.create(
        user_id=user.id,
        kind=IdentityKind.WECHAT,
        subject=f"openid:{app_id}:{openid}",
        label="微信",
        created_at=datetime.now(UTC),
    )
    await WechatOpenid.create(
        identity=identity,
        user_id=user.id,
        app_id=app_id,
        openid=openid,
        created_at=datetime.now(UTC),
    )
    return user, openid


def merchant_public_key(shop: Shop) -> rsa.RSAPublicKey:
    cert = x509.load_pem_x509_certificate(shop.wechatpay.keys.merchant_cert.read_bytes())
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


async def test_jsapi_inside_wechat_pays_with_the_openid_and_a_signed_bridge_call(
    shop: Shop,
) -> None:
    buyer, openid = await wechat_member()
    token = await token_for(buyer)
    order = await held_order(buyer)
    body = await pay_order(shop, order, token, agent=IN_WECHAT)
    action = body["next_action"]
    assert action["type"] == "wechat_pay_jsapi"
    assert action["app_id"] == WECHAT_OFFICIAL.app_id
    assert action["package"].startswith("prepay_id=") and action["sign_type"] == "RSA"
    message = (
        f"{action['app_id']}\n{action['time_stamp']}\n{action['nonce_str']}\n{action['package']}\n"
    ).encode()
    merchant_public_key(shop).verify(
        base64.b64decode(action["pay_sign"]), message, padding.PKCS1v15(), hashes.SHA256()
    )  # raises if it is not the merchant's signature

    # The stand-in's bridge page (WeixinJSBridge outside WeChat) takes the signed call.
    query = {
        "appId": action["app_id"],
        "timeStamp": action["time_stamp"],
        "nonceStr": action["nonce_str"],
        "package": action["package"],
        "signType": action["sign_type"],
        "paySign": action["pay_sign"],
        "return": f"{shop.base}/store/orders/{order.id}/paying",
    }
    async with httpx.AsyncClient(headers={"User-Agent": IN_WECHAT}) as wechat:
        bridge = await wechat.get(f"{shop.wechatpay.url}/pay/jsapi?{urlencode(query)}")
        forged = await wechat.get(
            f"{shop.wechatpay.url}/pay/jsapi?{urlencode({**query, 'paySign': 'AAAA'})}"
        )
    assert bridge.status_code == 200 and "¥" in bridge.text
    assert "fail" in forged.text or forged.status_code >= 400
    assert (await shop.pay(await intent_id(body))).status_code == 200
    await paid(order)
    held = (await shop.control("GET", f"orders/{await intent_id(body)}")).json()
    assert held["transaction"]["payer"]["openid"] == openid  # who WeChat had pay: our buyer


async def test_an_app_outside_wechats_browser_may_ask_for_jsapi_for_a_wechat_member(
    shop: Shop,
) -> None:
    # A mini program's or an app's server calls the API with its own user agent: the flow it
    # asks for decides, and the member's openid from their WeChat sign-in is what pays.
    buyer, _ = await wechat_member()
    token = await token_for(buyer)
    order = await held_order(buyer)
    body = await pay_order(shop, order, token, agent=COMPUTER, flow="jsapi")
    assert body["next_action"]["type"] == "wechat_pay_jsapi"


async def test_jsapi_without_an_openid_is_refused_and_the_api_may_choose_native(
    shop: Shop,
) -> None:
    buyer = await make_user()  # signed in by email: no openid
    token = await token_for(buyer)
    order = await held_order(buyer)
    async with shop.client(IN_WECHAT) as http:
        refused = await http.post(
            f"/api/v1/orders/{order.id}/payment",
            json={"method": "wechat_pay"},
            headers=bearer(token),
        )
        unknown = await http.post(
            f"/api/v1/orders/{order.id}/payment",
            json={"method": "wechat_pay", "flow": "page"},
            headers=bearer(token),
        )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "flow"
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "flow"
    assert await Payment.all().count() == 0  # nothing placed
    body = await pay_order(shop, order, token, agent=IN_WECHAT, flow="native")
    assert body["next_action"]["type"] == "wechat_pay_display_qr_code"


# ---- failures and their orders, in each flow ----------------------------------------------------

FLOWS = ("native", "h5", "jsapi")
AGENT = {"native": COMPUTER, "h5": PHONE, "jsapi": IN_WECHAT}


async def start_paying(
    shop: Shop, flow: str, **order_args: Any
) -> tuple[str, Order, dict[str, Any]]:
    """A buyer (for JSAPI, one signed in with WeChat) holding an order, paying in `flow` from
    the device that flow is picked for."""
    buyer = (await wechat_member())[0] if flow == "jsapi" else await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer, **order_args)
    body = await pay_order(shop, order, token, agent=AGENT[flow])
    assert (await Payment.get(id=body["payment_id"])).flow == flow
    return token, order, body


@pytest.mark.parametrize("flow", FLOWS)
async def test_a_decline_keeps_the_hold_and_a_second_order_pays(shop: Shop, flow: str) -> None:
    token, order, first = await start_paying(shop, flow)
    out_trade_no = await intent_id(first)
    assert (await shop.control("POST", f"orders/{out_trade_no}/decline")).is_success
    # WeChat tells no one of a failure: the waiting page's poll (or reconciliation) asks. A
    # failed attempt may be tried again in WeChat: the order is over only once WeChat closed
    # it, so while WeChat will not close it yet, the payment stays open.
    await shop.control("POST", "close-refusal", seconds=300)
    payment = await payments.refresh_payment(
        shop.provider, first["payment_id"], now=datetime.now(UTC)
    )
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    await shop.control("POST", "close-refusal", seconds=0)
    payment = await payments.refresh_payment(
        shop.provider, first["payment_id"], now=datetime.now(UTC)
    )
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "payment_intent_payment_attempt_failed"
    held = (await shop.control("GET", f"orders/{out_trade_no}")).json()
    assert held["transaction"]["trade_state"] == "CLOSED"  # no second try at WeChat
    assert await order_is(order, OrderStatus.PENDING_PAYMENT)  # still held
    again = await pay_order(shop, order, token, agent=AGENT[flow])
    assert again["payment_id"] != first["payment_id"]
    assert await intent_id(again) != await intent_id(first)
    assert (await shop.pay(await intent_id(again))).status_code == 200
    await paid(order)


@pytest.mark.parametrize("flow", FLOWS)
async def test_an_order_left_unpaid_is_closed_with_the_hold_and_cannot_be_paid_later(
    shop: Shop, flow: str
) -> None:
    _, order, body = await start_paying(shop, flow, stock=1)
    out_trade_no = await intent_id(body)
    later = order.hold_expires_at + timedelta(seconds=1)
    assert await store.release_expired_orders(provider=shop.provider, now=later) == 1
    assert await order_is(order, OrderStatus.CANCELLED)
    payment = await Payment.get(id=body["payment_id"])
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "canceled"
    held = (await shop.control("GET", f"orders/{out_trade_no}")).json()
    assert "CLOSED" in json.dumps(held)
    assert (await shop.pay(out_trade_no)).status_code >= 400  # nothing left to pay
    if flow != "h5":
        return
    async with shop.client(PHONE) as phone:  # and the buyer's link leads back to the order
        link = await phone.get(body["next_action"]["url"])
    assert link.status_code == 303
    assert link.headers["location"] == f"{shop.base}/store/orders/{order.id}/paying"


async def test_a_close_wechat_refuses_keeps_the_payment_open_until_it_can_be_closed(
    shop: Shop,
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    body = await pay_order(shop, order, token)
    await shop.control("POST", "close-refusal", seconds=300)
    async with shop.client() as http:
        refused = await http.post(f"/api/v1/orders/{order.id}/cancel", headers=bearer(token))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "payment_in_progress"
    assert await order_is(order, OrderStatus.PENDING_PAYMENT)  # nothing released unseen
    assert (await Payment.get(id=body["payment_id"])).status == PaymentStatus.REQUIRES_ACTION
    await shop.control("POST", "close-refusal", seconds=0)
    async with shop.client() as http:
        cancelled = await http.post(f"/api/v1/orders/{order.id}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200, cancelled.text
    assert await order_is(order, OrderStatus.CANCELLED)


@pytest.mark.parametrize("flow", FLOWS)
async def test_a_lost_notification_is_settled_by_reconciliation(shop: Shop, flow: str) -> None:
    _, order, body = await start_paying(shop, flow)
    out_trade_no = await intent_id(body)
    await shop.control("POST", "notifications", mode="lose")
    assert (await shop.pay(out_trade_no)).status_code == 200
    lost = await shop.deliveries(out_trade_no)
    assert lost and all("status_code" not in row for row in lost)  # never sent
    assert await order_is(order, OrderStatus.PENDING_PAYMENT)
    counts = await payments.reconcile(shop.provider, now=datetime.now(UTC))
    assert counts.get("paid") == 1, counts
    assert await order_is(order, OrderStatus.PAID)


@pytest.mark.parametrize("flow", FLOWS)
async def test_a_repeated_notification_is_applied_once(shop: Shop, flow: str) -> None:
    _, order, body = await start_paying(shop, flow)
    out_trade_no = await intent_id(body)
    await shop.control("POST", "notifications", mode="repeat")
    assert (await shop.pay(out_trade_no)).status_code == 200

    async def both_taken() -> bool:
        rows = await shop.deliveries(out_trade_no)
        return len([row for row in rows if row.get("status_code") == 204]) == 2

    await eventually(both_taken)
    rows = await shop.deliveries(out_trade_no)
    assert len({row["id"] for row in rows}) == 1  # the same notification twice
    assert await WebhookEvent.filter(payment_id=body["payment_id"]).count() == 1
    assert await order_is(order, OrderStatus.PAID)


async def test_the_buyer_back_before_the_notification_sees_the_receipt(shop: Shop) -> None:
    buyer = await make_user()
    order = await held_order(buyer)
    async with shop.client(PHONE) as phone:
        await sign_in(phone, buyer.email or "", PASSWORD)
        paid_page = await phone.post(
            f"/store/orders/{order.id}/pay",
            data={"method": "wechat_pay", "csrf_token": await csrf(phone, order)},
            headers={"Accept": "application/json"},
        )
        assert paid_page.status_code == 200, paid_page.text
        target = paid_page.json()["redirect"]
        assert "/wechat-h5?k=" in target
        payment = await Payment.filter(subject_id=str(order.id)).get()
        await shop.control("POST", "notifications", mode="lose")
        assert (await shop.pay(payment.provider_intent_id or "")).status_code == 200
        back = await phone.get(f"/store/orders/{order.id}/paying")  # WeChat's redirect_url
    assert back.status_code == 303
    assert back.headers["location"].endswith(f"/store/orders/{order.id}/receipt")
    assert await order_is(order, OrderStatus.PAID)


async def csrf(http: httpx.AsyncClient, order: Order) -> str:
    page = await http.get(f"/store/orders/{order.id}/pay")
    assert page.status_code == 200, page.text
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


@pytest.mark.parametrize("flow", FLOWS)
async def test_a_success_after_the_hold_was_released_is_delivered_or_refunded_in_full(
    shop: Shop, flow: str
) -> None:
    # Two buyers, one unit each time: WeChat records a payment a moment after our release
    # closed the order (their close and the payer crossed).
    for units_left_for_the_late_buyer in (True, False):
        _, order, body = await start_paying(shop, flow, stock=1)
        out_trade_no = await intent_id(body)
        later = order.hold_expires_at + timedelta(seconds=1)
        assert await store.release_expired_orders(provider=shop.provider, now=later) == 1
        if not units_left_for_the_late_buyer:
            other = await make_user()
            product_id = (await order.items.all().first()).product_id  # type: ignore[union-attr]
            taken = await store.place_order(
                buyer=other,
                items=[store.Wanted(product_id=product_id, quantity=1)],
                now=datetime.now(UTC),
                counter=shop.app.state.counter,
                shipping=address(),
            )
            assert taken.status == OrderStatus.PENDING_PAYMENT
        assert (await shop.pay(out_trade_no, late=True)).status_code == 200

        async def settled(payment_id: int = body["payment_id"]) -> bool:
            payment = await Payment.get(id=payment_id)
            return payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED) and (
                payment.settlement is not None and payment.settlement.value != "refund_due"
            )

        await eventually(settled, seconds=15)
        payment = await Payment.get(id=body["payment_id"])
        if units_left_for_the_late_buyer:
            assert await order_is(order, OrderStatus.PAID)  # taken again: delivered
            assert payment.status == PaymentStatus.SUCCEEDED
        else:
            assert payment.status == PaymentStatus.REFUNDED  # no unit: all money back
            assert payment.refunded_fen == payment.amount_fen
            held = (await shop.control("GET", f"orders/{out_trade_no}")).json()
            given_back = [refund["amount"]["refund"] for refund in held["refunds"]]
            assert given_back == [payment.amount_fen]  # at WeChat too


@pytest.mark.parametrize("flow", FLOWS)
async def test_refunds_in_part_then_in_full_go_back_through_wechat(shop: Shop, flow: str) -> None:
    _, order, body = await start_paying(shop, flow, price_fen=10_000)
    out_trade_no = await intent_id(body)
    await shop.pay(out_trade_no)
    await paid(order)
    admin = bearer(await token_for(await make_user(admin=True)))
    path = f"/api/v1/payments/{body['payment_id']}/refund"
    async with shop.client() as http:
        part = await http.post(path, json={"amount_fen": 3_000}, headers=admin)
        assert part.status_code == 200 and part.json()["refunded_fen"] == 3_000
        rest = await http.post(path, json={}, headers=admin)
        assert rest.status_code == 200 and rest.json()["status"] == "refunded"
        too_much = await http.post(path, json={"amount_fen": 1}, headers=admin)
    assert too_much.status_code == 409
    held = (await shop.control("GET", f"orders/{out_trade_no}")).json()
    refunds = held.get("refunds") or []
    assert sorted(r["amount"]["refund"] for r in refunds) == [3_000, 7_000]

    async def refund_notices_taken() -> bool:
        rows = await shop.deliveries(out_trade_no)
        refund_rows = [r for r in rows if str(r.get("event_type", "")).startswith("REFUND")]
        return len(refund_rows) == 2 and all(r.get("status_code") == 204 for r in refund_rows)

    await eventually(refund_notices_taken)


# ---- forged notifications ---------------------------------------------------------------------


def _notification(
    shop: Shop,
    resource: dict[str, Any],
    *,
    key: rsa.RSAPrivateKey | None = None,
    timestamp: int | None = None,
    ciphertext: str | None = None,
    serial: str | None = None,
    signature: str | None = None,
    event_type: str = "TRANSACTION.SUCCESS",
    associated: str = "transaction",
) -> tuple[bytes, dict[str, str]]:
    """A TRANSACTION.SUCCESS notification as WeChat Pay writes one, signed with the platform
    key (or `key`) at `timestamp`."""
    nonce = secrets.token_hex(6)
    sealed = AESGCM(shop.settings.wechat_pay.apiv3_key.encode()).encrypt(  # type: ignore[union-attr]
        nonce.encode(), json.dumps(resource).encode(), associated.encode()
    )
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "create_time": datetime.now(UTC).isoformat(),
            "event_type": event_type,
            "resource_type": "encrypt-resource",
            "summary": "支付成功",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext or base64.b64encode(sealed).decode(),
                "associated_data": associated,
                "original_type": associated,
                "nonce": nonce,
            },
        }
    ).encode()
    platform = serialization.load_pem_private_key(
        shop.wechatpay.keys.platform_key.read_bytes(), password=None
    )
    signer = key or platform
    assert isinstance(signer, rsa.RSAPrivateKey)
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    header_nonce = secrets.token_hex(16)
    signed = signer.sign(
        f"{stamp}\n{header_nonce}\n".encode() + body + b"\n", padding.PKCS1v15(), hashes.SHA256()
    )
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": header_nonce,
        "Wechatpay-Signature": signature or base64.b64encode(signed).decode(),
        "Wechatpay-Serial": serial or shop.settings.wechat_pay.public_key_id or "",  # type: ignore[union-attr]
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return body, headers


async def test_forged_notifications_are_refused_and_change_nothing(shop: Shop) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    body = await pay_order(shop, order, token)
    payment = await Payment.get(id=body["payment_id"])
    resource = {
        "appid": WECHAT_OFFICIAL.app_id,
        "mchid": shop.settings.wechat_pay.mchid,  # type: ignore[union-attr]
        "out_trade_no": payment.provider_intent_id,
        "transaction_id": "4200000000" + secrets.token_hex(6),
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "attach": json.dumps({"payment_id": str(payment.id)}),
        "success_time": datetime.now(UTC).isoformat(),
        "payer": {"openid": "o-forger"},
        "amount": {"total": payment.amount_fen, "payer_total": payment.amount_fen,
                   "currency": "CNY", "payer_currency": "CNY"},
    }  # fmt: skip
    another_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forgeries = {
        "a bad signature": _notification(shop, resource, signature="bm90IGEgc2lnbmF0dXJl"),
        "another key": _notification(shop, resource, key=another_key),
        "an old timestamp": _notification(shop, resource, timestamp=int(time.time()) - 600),
        "an unknown serial": _notification(shop, resource, serial="PUB_KEY_ID_0" + "9" * 31),
        "a ciphertext that does not decrypt": _notification(
            shop, resource, ciphertext=base64.b64encode(b"x" * 64).decode()
        ),
    }
    async with shop.client() as http:
        for name, (payload, headers) in forgeries.items():
            answer = await http.post("/payments/notify/wechatpay", content=payload, headers=headers)
            assert answer.status_code in (400, 401), name
            assert answer.json()["code"] == "FAIL", name
        # A digit no clock writes ("²", latin-1 in the header): refused, never a 500.
        hostile = {k: v.encode() for k, v in forgeries["an old timestamp"][1].items()}
        hostile["Wechatpay-Timestamp"] = "²".encode("latin-1")
        answer = await http.post(
            "/payments/notify/wechatpay", content=forgeries["an old timestamp"][0], headers=hostile
        )
        assert answer.status_code == 400 and answer.json()["code"] == "FAIL"
        # Well signed, but WeChat, asked, says the order is not paid: nothing is believed,
        # and WeChat is told to send it again later.
        payload, headers = _notification(shop, resource)
        believed = await http.post("/payments/notify/wechatpay", content=payload, headers=headers)
        assert believed.status_code == 500 and believed.json()["code"] == "FAIL"
    assert await WebhookEvent.all().count() == 0
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.REQUIRES_ACTION
    assert await order_is(order, OrderStatus.PENDING_PAYMENT)


async def test_a_refund_wechat_could_not_make_tells_the_payments_staff_once(
    shop: Shop,
) -> None:
    _, order, body = await start_paying(shop, "native", price_fen=10_000)
    out_trade_no = await intent_id(body)
    await shop.pay(out_trade_no)
    await paid(order)
    admin = await make_user(admin=True)
    async with shop.client() as http:
        refunded = await http.post(
            f"/api/v1/payments/{body['payment_id']}/refund",
            json={},
            headers=bearer(await token_for(admin)),
        )
        assert refunded.status_code == 200
        held = (await shop.control("GET", f"orders/{out_trade_no}")).json()
        refund = held["refunds"][0]
        # WeChat later says the money could not go back (the buyer's card was closed).
        payload, headers = _notification(
            shop,
            {
                "mchid": shop.settings.wechat_pay.mchid,  # type: ignore[union-attr]
                "out_trade_no": out_trade_no,
                "transaction_id": held["transaction"]["transaction_id"],
                "out_refund_no": refund["out_refund_no"],
                "refund_id": refund["refund_id"],
                "refund_status": "ABNORMAL",
                "user_received_account": "招商银行信用卡0403",
                "amount": {
                    "total": 10_000,
                    "refund": 10_000,
                    "payer_total": 10_000,
                    "payer_refund": 10_000,
                },
            },
            event_type="REFUND.ABNORMAL",
            associated="refund",
        )
        for _ in range(2):  # WeChat repeats it
            told = await http.post("/payments/notify/wechatpay", content=payload, headers=headers)
            assert told.status_code == 204
    notes = await Notification.filter(user_id=admin.id, kind="refund_stuck")
    assert len(notes) == 1
    assert refund["out_refund_no"] in json.dumps(notes[0].params, ensure_ascii=False)


async def test_the_notify_url_is_not_found_when_wechat_pay_goes_through_stripe(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/payments/notify/wechatpay", content=b"{}")
    assert answer.status_code == 404
