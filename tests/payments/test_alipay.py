"""Alipay paid directly (its open API), through the app on a real port and the stand-in
(devserver/alipay.py) over real HTTP: RSA2 signatures both ways, its notifications to our
notify URL answered `success`, its cashier playing the buyer, its signed return.

Orders of events covered, in each flow (page on a computer, wap in a phone's browser): paid
with its notification; a payment that fails at the cashier (the trade still waits, the buyer
pays after all); abandoned until the hold runs out, opened or never opened; the notification
lost (reconciliation asks Alipay); repeated; forged (a bad signature, another key, another app,
and a well-signed success Alipay does not confirm); the buyer back before the notification (and
a forged return, which is not believed); a success after the hold was released (fulfilled
again, or refunded in full); refunds, partial and full; a payment refunded through its own
provider after the setting changed; and a drop rush with all three providers in the mix.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette

from accounts import services as accounts
from app import create_app
from composition import AppWiring, wire
from errors import DomainError
from payments import services as payments
from payments.models import Payment, PaymentStatus, WebhookEvent
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus
from tests.conftest import AlipayStandIn, WechatPayStandIn, with_provider
from tests.factories import (
    PASSWORD,
    SHIPPING,
    address,
    bearer,
    card_payment_method,
    make_user,
    make_users,
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
COMPUTER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
FLOWS = ("page", "wap")
AGENT = {"page": COMPUTER, "wap": PHONE}


@dataclass
class Shop:
    """The app on a real port (Alipay's notifications reach it there), paying Alipay and
    WeChat Pay directly through their stand-ins, cards through localstripe."""

    base: str
    app: Starlette
    settings: Settings
    alipay: AlipayStandIn

    @property
    def provider(self) -> Any:
        return self.app.state.payments_provider

    def client(self, agent: str = COMPUTER) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, headers={"User-Agent": agent}, timeout=20)

    async def trade(self, out_trade_no: str) -> dict[str, Any]:
        trade: dict[str, Any] = await self.alipay.control(f"/_control/trades/{out_trade_no}")
        return trade

    async def settle(self, out_trade_no: str, outcome: str, **body: Any) -> httpx.Response:
        """The buyer pays or fails at Alipay without a browser (the control endpoint)."""
        async with httpx.AsyncClient(base_url=self.alipay.url, timeout=20) as http:
            return await http.post(f"/_control/trades/{out_trade_no}/{outcome}", json=body)

    async def deliveries(self, out_trade_no: str) -> list[dict[str, Any]]:
        rows = await self.alipay.control("/_control/deliveries")
        rows = rows if isinstance(rows, list) else rows.get("deliveries", [])
        return [row for row in rows if row.get("out_trade_no") == out_trade_no]

    async def notifications(self, mode: str) -> None:
        await self.alipay.control("/_control/notifications", {"mode": mode})


@pytest.fixture
async def shop(
    settings: Settings, wired: AppWiring, alipay: AlipayStandIn, wechatpay: WechatPayStandIn
) -> AsyncIterator[Shop]:
    port = free_port()
    configured = alipay.settings(
        wechatpay.settings(settings, public_url=f"http://127.0.0.1:{port}")
    )
    own = wire(configured)
    app = create_app(configured, manage_database=False, background_tasks=False, wired=own)
    shop = Shop(f"http://127.0.0.1:{port}", app, configured, alipay)
    try:
        with own.wiring().bound():
            async with serving(app, port):
                yield shop
    finally:
        await shop.notifications("deliver")
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()
        app.state.pictures.close()


async def pay_order(
    shop: Shop, order: Order, token: str, *, agent: str = COMPUTER, **choice: Any
) -> dict[str, Any]:
    choice.setdefault("return_url", f"{shop.base}/store/orders/{order.id}/paying")
    async with shop.client(agent) as http:
        answer = await http.post(
            f"/api/v1/orders/{order.id}/payment",
            json={"method": "alipay", **choice},
            headers=bearer(token),
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == "requires_action", body
    return body


async def start_paying(shop: Shop, flow: str, **order_args: Any) -> tuple[str, Order, str, str]:
    """A buyer holding an order, paying with Alipay from the device `flow` is picked for:
    their token, the order, the out_trade_no and the cashier's URL."""
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer, **order_args)
    body = await pay_order(shop, order, token, agent=AGENT[flow])
    payment = await Payment.get(id=body["payment_id"])
    assert payment.flow == flow and payment.provider == "alipay"
    assert payment.provider_intent_id is not None
    return token, order, payment.provider_intent_id, body["next_action"]["url"]


async def open_cashier(url: str) -> str:
    """The buyer's browser opens Alipay's cashier (Alipay makes the trade now): its token."""
    async with httpx.AsyncClient(timeout=20) as browser:
        page = await browser.get(url)
    assert page.status_code == 200, page.text
    assert "确认付款" in page.text
    found = re.search(r'name="token" value="([^"]+)"', page.text)
    assert found is not None
    return found[1]


async def press(shop: Shop, token: str, button: str) -> httpx.Response:
    """The buyer presses a button of the cashier (not following its redirect)."""
    async with httpx.AsyncClient(base_url=shop.alipay.url, timeout=20) as browser:
        return await browser.post(f"/cashier/{button}", data={"token": token})


async def order_is(order: Order, status: OrderStatus) -> bool:
    return (await Order.get(id=order.id)).status == status


async def paid(order: Order) -> None:
    async def check() -> bool:
        return await order_is(order, OrderStatus.PAID)

    await eventually(check)


async def refreshed(shop: Shop, payment_id: int) -> Payment:
    return await payments.refresh_payment(shop.provider, payment_id, now=datetime.now(UTC))


# ---- the two flows ---------------------------------------------------------------------------


@pytest.mark.parametrize("flow", FLOWS)
async def test_each_flow_sends_the_buyer_to_alipays_cashier_and_its_notification_pays(
    shop: Shop, flow: str
) -> None:
    _, order, out_trade_no, url = await start_paying(shop, flow)
    sent = dict(parse_qsl(urlsplit(url).query))
    assert url.startswith(shop.alipay.gateway)
    assert sent["method"] == f"alipay.trade.{flow}.pay" and sent["sign_type"] == "RSA2"
    assert sent["notify_url"] == f"{shop.base}/payments/notify/alipay"
    # Alipay has no trade before the buyer opens the page: "not paid yet", not failed.
    payment = await refreshed(shop, (await Payment.get(provider_intent_id=out_trade_no)).id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION

    token = await open_cashier(url)
    assert (await shop.trade(out_trade_no))["trade_status"] == "WAIT_BUYER_PAY"
    back = await press(shop, token, "pay")
    assert back.status_code == 302
    assert back.headers["location"].startswith(f"{shop.base}/store/orders/{order.id}/paying?")
    await paid(order)
    payment = await Payment.get(provider_intent_id=out_trade_no)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.action_url is None
    assert await WebhookEvent.filter(payment_id=payment.id).count() == 1

    async def answered() -> bool:
        rows = await shop.deliveries(out_trade_no)
        return any(row.get("status_code") == 200 and row.get("answer") == "success" for row in rows)

    await eventually(answered)  # taken, in the words Alipay waits for


async def test_the_checkout_picks_wap_on_a_phone_and_page_on_a_computer(shop: Shop) -> None:
    for agent, flow in ((PHONE, "wap"), (COMPUTER, "page")):
        buyer = await make_user()
        order = await held_order(buyer)
        async with shop.client(agent) as browser:
            await sign_in(browser, buyer.email or "", PASSWORD)
            answer = await browser.post(
                f"/store/orders/{order.id}/pay",
                data={"method": "alipay", "csrf_token": await csrf(browser, order)},
                headers={"Accept": "application/json"},
            )
        assert answer.status_code == 200, answer.text
        target = answer.json()["redirect"]
        assert dict(parse_qsl(urlsplit(target).query))["method"] == f"alipay.trade.{flow}.pay"


# ---- failures and their orders, in each flow ---------------------------------------------------


@pytest.mark.parametrize("flow", FLOWS)
async def test_a_payment_failing_at_the_cashier_keeps_it_waiting_and_the_buyer_pays_after_all(
    shop: Shop, flow: str
) -> None:
    _, order, out_trade_no, url = await start_paying(shop, flow)
    token = await open_cashier(url)
    failed = await press(shop, token, "decline")
    assert failed.status_code == 200 and "付款失败" in failed.text
    # Alipay tells no one of a failed attempt, and the trade still waits: so does the payment.
    payment = await refreshed(shop, (await Payment.get(provider_intent_id=out_trade_no)).id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert await order_is(order, OrderStatus.PENDING_PAYMENT)
    assert (await press(shop, token, "pay")).status_code == 302
    await paid(order)


@pytest.mark.parametrize("opened", [True, False], ids=["opened", "never-opened"])
@pytest.mark.parametrize("flow", FLOWS)
async def test_an_order_left_unpaid_is_over_with_its_hold_and_cannot_be_paid_later(
    shop: Shop, flow: str, opened: bool
) -> None:
    _, order, out_trade_no, url = await start_paying(shop, flow, stock=1)
    if opened:
        await open_cashier(url)
        abandoned = await press(shop, await open_cashier(url), "abandon")
        assert abandoned.status_code in (200, 302)  # wap: back to quit_url; page: a page
    later = order.hold_expires_at + timedelta(seconds=1)
    assert await store.release_expired_orders(provider=shop.provider, now=later) == 1
    assert await order_is(order, OrderStatus.CANCELLED)
    payment = await Payment.get(provider_intent_id=out_trade_no)
    assert payment.status == PaymentStatus.FAILED
    if opened:
        assert (await shop.trade(out_trade_no))["trade_status"] == "TRADE_CLOSED"
        assert (await shop.settle(out_trade_no, "pay")).status_code == 409  # nothing to pay
    else:
        # A trade never made cannot be closed, and Alipay has none: the page's own
        # time_expire (the hold's end) keeps it from being made later. A buyer who opens
        # the old page before then and pays is a late success (the test below).
        async with httpx.AsyncClient(base_url=shop.alipay.url) as control:
            assert (await control.get(f"/_control/trades/{out_trade_no}")).status_code == 404


@pytest.mark.parametrize("flow", FLOWS)
async def test_a_lost_notification_is_settled_by_reconciliation(shop: Shop, flow: str) -> None:
    _, order, out_trade_no, url = await start_paying(shop, flow)
    await shop.notifications("lose")
    await press(shop, await open_cashier(url), "pay")
    lost = await shop.deliveries(out_trade_no)
    assert lost and all("status_code" not in row for row in lost)  # never sent
    assert await order_is(order, OrderStatus.PENDING_PAYMENT)
    counts = await payments.reconcile(shop.provider, now=datetime.now(UTC))
    assert counts.get("paid") == 1, counts
    assert await order_is(order, OrderStatus.PAID)


async def test_a_repeated_notification_is_applied_once(shop: Shop) -> None:
    _, order, out_trade_no, url = await start_paying(shop, "page")
    await shop.notifications("repeat")
    await press(shop, await open_cashier(url), "pay")

    async def both_taken() -> bool:
        rows = await shop.deliveries(out_trade_no)
        return len([row for row in rows if row.get("answer") == "success"]) == 2

    await eventually(both_taken)
    rows = await shop.deliveries(out_trade_no)
    assert len({row["notify_id"] for row in rows}) == 1  # the same notification twice
    payment = await Payment.get(provider_intent_id=out_trade_no)
    assert await WebhookEvent.filter(payment_id=payment.id).count() == 1
    assert await order_is(order, OrderStatus.PAID)


async def test_the_buyer_back_before_the_notification_is_paid_on_alipays_word_not_the_returns(
    shop: Shop,
) -> None:
    buyer = await make_user()
    order = await held_order(buyer)
    async with shop.client(PHONE) as phone:
        await sign_in(phone, buyer.email or "", PASSWORD)
        answer = await phone.post(
            f"/store/orders/{order.id}/pay",
            data={"method": "alipay", "csrf_token": await csrf(phone, order)},
            headers={"Accept": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        cashier = answer.json()["redirect"]
        payment = await Payment.filter(subject_id=str(order.id)).get()
        out_trade_no = payment.provider_intent_id or ""
        # A return that Alipay did not sign says nothing: the page asks Alipay, which has
        # no payment, and the buyer still waits.
        forged = urlencode(
            {"out_trade_no": out_trade_no, "total_amount": "66.00", "sign": "Zm9yZ2Vk"}
        )
        waiting = await phone.get(f"/store/orders/{order.id}/paying?{forged}")
        assert waiting.status_code == 200
        assert await order_is(order, OrderStatus.PENDING_PAYMENT)

        await shop.notifications("lose")
        back = await press(shop, await open_cashier(cashier), "pay")
        location = back.headers["location"]
        assert "sign=" in location and f"out_trade_no={out_trade_no}" in location
        receipt = await phone.get(location)  # Alipay's return, before any notification
    assert receipt.status_code == 303
    assert receipt.headers["location"].endswith(f"/store/orders/{order.id}/receipt")
    assert await order_is(order, OrderStatus.PAID)
    assert await WebhookEvent.all().count() == 0  # the query decided, not a notification


async def csrf(http: httpx.AsyncClient, order: Order) -> str:
    page = await http.get(f"/store/orders/{order.id}/pay")
    assert page.status_code == 200, page.text
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


async def test_a_success_after_the_hold_was_released_is_delivered_or_refunded_in_full(
    shop: Shop,
) -> None:
    # One unit each time: Alipay records a payment a moment after our release closed the
    # trade (the buyer's payment and our close crossed).
    for units_left_for_the_late_buyer in (True, False):
        _, order, out_trade_no, url = await start_paying(shop, "wap", stock=1)
        await open_cashier(url)
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
        assert (await shop.settle(out_trade_no, "pay", late=True)).status_code == 200

        async def settled(no: str = out_trade_no) -> bool:
            payment = await Payment.get(provider_intent_id=no)
            return payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED) and (
                payment.settlement is not None and payment.settlement.value != "refund_due"
            )

        await eventually(settled, seconds=15)
        payment = await Payment.get(provider_intent_id=out_trade_no)
        if units_left_for_the_late_buyer:
            assert await order_is(order, OrderStatus.PAID)  # taken again: delivered
            assert payment.status == PaymentStatus.SUCCEEDED
        else:
            assert payment.status == PaymentStatus.REFUNDED  # no unit: all money back
            assert payment.refunded_fen == payment.amount_fen
            trade = await shop.trade(out_trade_no)
            assert [r["refund_fen"] for r in trade["refunds"]] == [payment.amount_fen]


@pytest.mark.parametrize("flow", FLOWS)
async def test_refunds_in_part_then_in_full_go_back_through_alipay(shop: Shop, flow: str) -> None:
    _, order, out_trade_no, url = await start_paying(shop, flow, price_fen=10_000)
    await press(shop, await open_cashier(url), "pay")
    await paid(order)
    payment = await Payment.get(provider_intent_id=out_trade_no)
    admin = bearer(await token_for(await make_user(admin=True)))
    path = f"/api/v1/payments/{payment.id}/refund"
    async with shop.client() as http:
        part = await http.post(path, json={"amount_fen": 3_000}, headers=admin)
        assert part.status_code == 200 and part.json()["refunded_fen"] == 3_000
        rest = await http.post(path, json={}, headers=admin)
        assert rest.status_code == 200 and rest.json()["status"] == "refunded"
        too_much = await http.post(path, json={"amount_fen": 1}, headers=admin)
    assert too_much.status_code == 409
    trade = await shop.trade(out_trade_no)
    assert sorted(r["refund_fen"] for r in trade["refunds"]) == [3_000, 7_000]
    assert trade["trade_status"] == "TRADE_CLOSED"  # refunded in full
    # Read back, a trade refunded in full is still one that was paid.
    counts = await payments.reconcile(shop.provider, now=datetime.now(UTC))
    assert counts.get("disputed", 0) == 0
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.REFUNDED


async def test_a_payment_is_refunded_through_its_own_provider_after_the_setting_changed(
    shop: Shop,
) -> None:
    _, order, out_trade_no, url = await start_paying(shop, "page", price_fen=10_000)
    await press(shop, await open_cashier(url), "pay")
    await paid(order)
    payment = await Payment.get(provider_intent_id=out_trade_no)

    # The operator moves Alipay back to Stripe; the application stays configured.
    through_stripe = dataclasses.replace(
        shop.settings, providers=with_provider(shop.settings.providers, "alipay", "stripe")
    )
    moved = payments.providers_for(through_stripe)
    try:
        assert moved.provider_for("alipay").name == "stripe"  # type: ignore[attr-defined]
        await payments.refund(
            provider=moved, payment_id=payment.id, amount_fen=4_000, now=datetime.now(UTC)
        )
    finally:
        await moved.aclose()
    trade = await shop.trade(out_trade_no)
    assert [r["refund_fen"] for r in trade["refunds"]] == [4_000]  # at Alipay, not Stripe

    # Without the application at all, nothing can be concluded: refused, nothing recorded.
    gone = dataclasses.replace(through_stripe, alipay=None)
    without = payments.providers_for(gone)
    try:
        with pytest.raises(DomainError) as refused:
            await payments.refund(
                provider=without, payment_id=payment.id, amount_fen=1_000, now=datetime.now(UTC)
            )
    finally:
        await without.aclose()
    assert refused.value.status == 503
    assert (await Payment.get(id=payment.id)).refunded_fen == 4_000


# ---- forged notifications ---------------------------------------------------------------------


def _signed_form(params: dict[str, str], key: rsa.RSAPrivateKey) -> bytes:
    """A notification as Alipay writes one: every field but sign and sign_type, sorted, `k=v`
    joined with `&`, signed SHA256withRSA."""
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if v)
    signature = key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return urlencode(
        {**params, "sign_type": "RSA2", "sign": base64.b64encode(signature).decode()}
    ).encode()


async def test_forged_notifications_are_refused_and_change_nothing(shop: Shop) -> None:
    _, order, out_trade_no, url = await start_paying(shop, "page")
    await open_cashier(url)
    payment = await Payment.get(provider_intent_id=out_trade_no)
    now = datetime.now(UTC) + timedelta(hours=8)
    fields = {
        "notify_time": now.strftime("%Y-%m-%d %H:%M:%S"),
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "charset": "utf-8",
        "version": "1.0",
        "app_id": shop.settings.alipay.app_id,  # type: ignore[union-attr]
        "trade_no": "2026120722001400000000009999",
        "out_trade_no": out_trade_no,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": f"{payment.amount_fen // 100}.{payment.amount_fen % 100:02d}",
        "gmt_payment": now.strftime("%Y-%m-%d %H:%M:%S"),
    }
    alipay_key = serialization.load_pem_private_key(
        shop.alipay.keys.alipay_private_key.read_bytes(), password=None
    )
    assert isinstance(alipay_key, rsa.RSAPrivateKey)
    another_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    genuine = _signed_form(fields, alipay_key)
    forgeries = {
        "a bad signature": genuine.replace(b"sign=", b"sign=AAAA"),
        "another key": _signed_form(fields, another_key),
        "no signature": urlencode(fields).encode(),
        "another application": _signed_form({**fields, "app_id": "2021000000000009"}, alipay_key),
        "a body that is no form": b"\xff\xfe<xml/>",
    }
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    async with shop.client() as http:
        for name, payload in forgeries.items():
            answer = await http.post("/payments/notify/alipay", content=payload, headers=form)
            assert answer.status_code == 400, name
            assert answer.text == "fail", name
        # Well signed, but Alipay, asked, says the trade is not paid: nothing is believed,
        # and Alipay is told to send it again later.
        believed = await http.post("/payments/notify/alipay", content=genuine, headers=form)
        assert believed.status_code == 500 and believed.text == "fail"
    assert await WebhookEvent.all().count() == 0
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.REQUIRES_ACTION
    assert await order_is(order, OrderStatus.PENDING_PAYMENT)


async def test_the_notify_url_is_not_found_when_alipay_goes_through_stripe(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/payments/notify/alipay", content=b"a=b")
    assert answer.status_code == 404


# ---- a drop rush with all three providers ----------------------------------------------------


@pytest.mark.postgres_only  # concurrency means something on PostgreSQL only
async def test_a_drop_paid_through_stripe_wechat_pay_and_alipay_at_once_sells_exactly_its_stock(
    shop: Shop,
) -> None:
    """150 buyers for 30 units; the 30 holders pay at once, a third each by card (Stripe),
    WeChat Pay (its own API, through its stand-in) and Alipay (its own API, through its
    stand-in). Three Alipay payers abandon; their holds run out, and three more buyers take
    the units with Alipay. Exactly 30 units sold, each to one paid order with one succeeded
    payment, and every payment kept the provider that took it."""
    drop = await store.create_product(
        title="得到 · 年度限量台历", description="", category="周边",
        price_fen=12_800, stock=30, per_customer_limit=1,
    )  # fmt: skip
    people = await make_users(150, prefix="alirush")
    tokens = [await accounts.issue_token(person, name="drop") for person in people]
    body = {"items": [{"product_id": drop.id, "quantity": 1}], "shipping": SHIPPING}
    async with shop.client() as http:
        placed = await asyncio.gather(
            *(http.post("/api/v1/orders", json=body, headers=bearer(t)) for t in tokens)
        )
        holders = [
            (t, r.json()["id"]) for t, r in zip(tokens, placed, strict=True) if r.status_code == 201
        ]
        losers = [t for t, r in zip(tokens, placed, strict=True) if r.status_code != 201]
        assert len(holders) == 30

        async def pay(token: str, order_id: int, method: str) -> dict[str, Any]:
            choice: dict[str, str] = {"method": method}
            if method == "card":
                choice = {
                    "payment_method": await card_payment_method(shop.settings, "4242424242424242")
                }
            elif method == "alipay":
                choice["return_url"] = f"{shop.base}/store/orders/{order_id}/paying"
            answer = await http.post(
                f"/api/v1/orders/{order_id}/payment", json=choice, headers=bearer(token)
            )
            assert answer.status_code == 200, answer.text
            result: dict[str, Any] = answer.json()
            return result

        async def settle(result: dict[str, Any]) -> None:
            payment = await Payment.get(id=result["payment_id"])
            assert payment.provider_intent_id is not None
            if payment.method.value == "alipay":
                await open_cashier(result["next_action"]["url"])
                await shop.settle(payment.provider_intent_id, "pay")
            else:
                async with httpx.AsyncClient(timeout=20) as wallet:
                    control = shop.settings.wechatpay_api_base + "/_control/orders"
                    await wallet.post(f"{control}/{payment.provider_intent_id}/pay")

        methods = ["card", "wechat_pay", "alipay"]
        results = await asyncio.gather(
            *(pay(t, order_id, methods[i % 3]) for i, (t, order_id) in enumerate(holders))
        )
        assert [r["status"] for r in results].count("paid") == 10  # the cards
        wallets = [r for r in results if r["status"] == "requires_action"]
        alipay = [r for r in wallets if r["next_action"]["type"] == "redirect"]
        assert len(wallets) == 20 and len(alipay) == 10
        abandoning = alipay[:3]
        await asyncio.gather(*(settle(r) for r in wallets if r not in abandoning))

        async def settled() -> bool:
            return await Order.filter(status=OrderStatus.PAID).count() == 27

        await eventually(settled, seconds=30)
        later = datetime.now(UTC) + timedelta(minutes=11)
        assert await store.release_expired_orders(provider=shop.provider, now=later) == 3
        assert await Payment.filter(status=PaymentStatus.FAILED).count() == 3

        again = await asyncio.gather(
            *(http.post("/api/v1/orders", json=body, headers=bearer(t)) for t in losers[:10])
        )
        second = [
            (t, r.json()["id"])
            for t, r in zip(losers[:10], again, strict=True)
            if r.status_code == 201
        ]
        assert len(second) == 3
        late = await asyncio.gather(*(pay(t, order_id, "alipay") for t, order_id in second))
        await asyncio.gather(*(settle(r) for r in late))

        async def sold_out() -> bool:
            return await Order.filter(status=OrderStatus.PAID).count() == 30

        await eventually(sold_out, seconds=30)
    succeeded = await Payment.filter(status=PaymentStatus.SUCCEEDED).all()
    assert len(succeeded) == 30
    assert sorted({p.provider for p in succeeded}) == ["alipay", "stripe", "wechatpay"]
    assert all(
        p.provider == {"card": "stripe", "wechat_pay": "wechatpay", "alipay": "alipay"}[p.method]
        for p in succeeded
    )
    assert len({p.subject_id for p in succeeded}) == 30
    assert await Order.filter(status=OrderStatus.PAID).count() == 30


# ---- a page given up on, paid after all ------------------------------------------------------


@pytest.mark.parametrize("found_by", ["reconciliation", "the return"])
async def test_a_page_given_up_on_before_it_was_opened_and_paid_later_is_never_kept(
    shop: Shop, found_by: str
) -> None:
    """The buyer leaves Alipay's page unopened and pays another way; Alipay had no trade, so
    nothing could be closed. They open the old page later (before its time_expire) and pay,
    and the notification is lost: the money goes back in full, found by reconciliation once
    the page's time is over, or at once when the buyer's browser comes back from Alipay."""
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    first = await pay_order(shop, order, token)
    given_up = await Payment.get(id=first["payment_id"])
    async with shop.client() as http:  # pays with WeChat instead: the Alipay page is given up
        second = await http.post(
            f"/api/v1/orders/{order.id}/payment",
            json={"method": "wechat_pay"},
            headers=bearer(token),
        )
    assert second.status_code == 200, second.text
    assert (await Payment.get(id=given_up.id)).status == PaymentStatus.FAILED
    wechat = await Payment.get(id=second.json()["payment_id"])
    async with httpx.AsyncClient(timeout=20) as wallet:
        control = f"{shop.settings.wechatpay_api_base}/_control/orders"
        assert (await wallet.post(f"{control}/{wechat.provider_intent_id}/pay")).is_success
    await paid(order)

    await shop.notifications("lose")
    back = await press(shop, await open_cashier(first["next_action"]["url"]), "pay")
    out_trade_no = given_up.provider_intent_id or ""
    assert (await shop.trade(out_trade_no))["trade_status"] == "TRADE_SUCCESS"
    if found_by == "reconciliation":
        now = datetime.now(UTC)
        assert "paid_late" not in await payments.reconcile(shop.provider, now=now)  # not yet
        over = (given_up.action_expires_at or now) + timedelta(minutes=1)
        counts = await payments.reconcile(shop.provider, now=over)
        assert counts.get("paid_late") == 1, counts
        again = await payments.reconcile(shop.provider, now=over + timedelta(minutes=1))
        assert "paid_late" not in again and "given_up" not in again  # read back once
    else:
        async with shop.client() as browser:
            await sign_in(browser, buyer.email or "", PASSWORD)
            await browser.get(back.headers["location"])
    payment = await Payment.get(id=given_up.id)
    assert payment.status == PaymentStatus.REFUNDED  # the thing went to the WeChat payment
    assert payment.refunded_fen == payment.amount_fen
    trade = await shop.trade(out_trade_no)
    assert [r["refund_fen"] for r in trade["refunds"]] == [payment.amount_fen]


async def test_with_its_provider_gone_an_alipay_payment_stays_open_rather_than_read_elsewhere(
    shop: Shop,
) -> None:
    """Stripe alone configured again (Alipay's settings removed) while an Alipay payment
    waits: it is not asked of Stripe, which does not know it and would have it failed (and a
    payment made meanwhile kept); it stays open until Alipay can be asked."""
    _, order, out_trade_no, _ = await start_paying(shop, "page")
    alone = dataclasses.replace(shop.settings, providers=(), alipay=None, wechat_pay=None)
    stripe_only = payments.providers_for(alone)
    try:
        counts = await payments.reconcile(
            stripe_only, now=order.hold_expires_at + timedelta(minutes=1)
        )
    finally:
        await stripe_only.aclose()
    assert counts.get("unreachable") == 1, counts
    assert (await Payment.get(provider_intent_id=out_trade_no)).status == (
        PaymentStatus.REQUIRES_ACTION
    )


async def test_a_return_url_too_long_for_alipay_is_refused_with_its_field(shop: Shop) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    long_url = f"{shop.base}/store/orders/{order.id}/paying?{'x' * 300}"
    async with shop.client() as http:
        answer = await http.post(
            f"/api/v1/orders/{order.id}/payment",
            json={"method": "alipay", "return_url": long_url},
            headers=bearer(token),
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "return_url"
    assert await order_is(order, OrderStatus.PENDING_PAYMENT)  # still held: pay again
