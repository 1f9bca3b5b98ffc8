"""WeChat Pay and Alipay against the provider process (devserver.localstripe imitates them):
real HTTP to it, the buyer's scan or redirect played on its pages, its webhooks to our app.

Orders of events covered, for an order and for an enrollment: paid with the webhook; declined;
abandoned until the hold runs out (canceled at the provider, the thing released, the old code
no longer payable); paid with the webhook lost (reconciliation settles it); Alipay's return
before its webhook (the return page settles it); refunds, partial and full.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import segno
from starlette.applications import Starlette

from app import create_app
from membership import services as membership
from membership.models import Enrollment, EnrollmentStatus
from payments import services as payments
from payments.models import Payment, PaymentStatus, PayMethod, WebhookEvent
from payments.provider import PaymentProvider
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus, StockUnit
from tests.factories import address, bearer, make_user, make_window, sign_in, token_for
from tests.payments.conftest import intent_json, webhooks_to

PUBLIC = "http://testserver"  # the ASGI client's origin: return_url must be on it


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.1)


async def held_order(buyer: Any, *, price_fen: int = 6_600, stock: int = 5) -> Order:
    product = await store.create_product(
        title="得到 · 帆布袋", description="", category="周边", price_fen=price_fen, stock=stock
    )
    return await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )


async def order_status(client: httpx.AsyncClient, order_id: int, token: str) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/orders/{order_id}", headers=bearer(token))
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


async def press(url: str, answer: str) -> httpx.Response:
    """The buyer presses Pay or Decline on the wallet's page (WeChat after the scan, Alipay)."""
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
        assert page.status_code == 200 and "¥" in page.text  # the amount, before paying
        return await http.post(f"{url}/{answer}", follow_redirects=False)


async def pay_with(
    client: httpx.AsyncClient, path: str, token: str, method: str, **extra: str
) -> dict[str, Any]:
    answer = await client.post(path, json={"method": method, **extra}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == "requires_action"
    return body


# ---- WeChat Pay -----------------------------------------------------------------------------


async def test_wechat_pay_scan_and_pay_delivers_the_order_shows_the_code_and_the_method(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    async with webhooks_to(app, settings):
        body = await pay_with(client, f"/api/v1/orders/{order.id}/payment", token, "wechat_pay")
        action = body["next_action"]
        assert action["type"] == "wechat_pay_display_qr_code"
        assert action["qr_data"].startswith(f"{settings.stripe_api_base}/_wallet/wechat_pay/pi_")
        expires = datetime.fromisoformat(action["expires_at"])
        assert datetime.now(UTC) < expires <= order.hold_expires_at  # never after the hold
        assert body["client_secret"] is None

        # Our own picture of the code (the CSP's img-src 'self'): it encodes qr_data.
        picture = await client.get(action["qr_image_url"], headers=bearer(token))
        assert picture.status_code == 200
        assert picture.headers["content-type"].startswith("image/svg+xml")
        expected = BytesIO()
        segno.make(action["qr_data"], error="m").save(
            expected, kind="svg", scale=8, border=2, xmldecl=False, title="WeChat Pay"
        )
        assert picture.content == expected.getvalue()
        stranger = await token_for(await make_user())
        assert (
            await client.get(action["qr_image_url"], headers=bearer(stranger))
        ).status_code == 404

        # Until the buyer scans, the order waits, and shows the same step again.
        waiting = await order_status(client, order.id, token)
        assert waiting["status"] == "pending_payment"
        assert waiting["payment_method"] == "wechat_pay"
        assert waiting["next_action"]["qr_data"] == action["qr_data"]

        assert (await press(action["qr_data"], "pay")).status_code == 200

        async def paid() -> bool:
            return (await order_status(client, order.id, token))["status"] == "paid"

        await eventually(paid)
    payment = await Payment.get(id=body["payment_id"])
    assert payment.method == PayMethod.WECHAT_PAY and payment.status == PaymentStatus.SUCCEEDED
    assert payment.action_url is None  # the code is gone once it settled
    assert await WebhookEvent.filter(
        payment_id=payment.id, type="payment_intent.succeeded"
    ).exists()
    done = await order_status(client, order.id, token)
    assert done["payment_method"] == "wechat_pay" and done["next_action"] is None

    admin = await token_for(await make_user(admin=True))
    listed = await client.get("/api/v1/admin/payments?method=wechat_pay", headers=bearer(admin))
    assert [p["id"] for p in listed.json()["payments"]] == [payment.id]
    assert listed.json()["payments"][0]["method"] == "wechat_pay"


async def test_wechat_pay_declined_keeps_the_hold_and_a_new_code_can_be_paid(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    async with webhooks_to(app, settings):
        first = await pay_with(client, f"/api/v1/orders/{order.id}/payment", token, "wechat_pay")
        assert (await press(first["next_action"]["qr_data"], "decline")).status_code == 200

        async def failed() -> bool:
            return (await Payment.get(id=first["payment_id"])).status == PaymentStatus.FAILED

        await eventually(failed)
        declined = await Payment.get(id=first["payment_id"])
        assert declined.failure_code == "payment_intent_payment_attempt_failed"
        assert (await Order.get(id=order.id)).status == OrderStatus.PENDING_PAYMENT  # still held
        # The old code is no longer payable; a new one is.
        async with httpx.AsyncClient() as http:
            assert (await http.get(first["next_action"]["qr_data"])).status_code == 410
        again = await pay_with(client, f"/api/v1/orders/{order.id}/payment", token, "wechat_pay")
        assert again["payment_id"] != first["payment_id"]
        assert (await press(again["next_action"]["qr_data"], "pay")).status_code == 200

        async def paid() -> bool:
            return (await Order.get(id=order.id)).status == OrderStatus.PAID

        await eventually(paid)


async def test_a_qr_code_left_unscanned_expires_with_the_hold(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer, stock=1)
    body = await pay_with(client, f"/api/v1/orders/{order.id}/payment", token, "wechat_pay")
    qr = body["next_action"]["qr_data"]

    later = order.hold_expires_at + timedelta(seconds=1)
    assert await store.release_expired_orders(provider=provider, now=later) == 1
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    assert await StockUnit.filter(order_id__isnull=True).count() == 1  # back on sale
    payment = await Payment.get(id=body["payment_id"])
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "canceled"
    intent = await intent_json(settings, payment.provider_intent_id or "")
    assert intent["status"] == "canceled"
    async with httpx.AsyncClient() as http:  # a late scan finds nothing to pay
        assert (await http.get(qr)).status_code == 410
        assert (await http.post(f"{qr}/pay")).status_code == 410


async def test_a_scan_whose_webhook_is_lost_is_settled_by_reconciliation(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    # No webhook endpoint is registered: the provider's event goes nowhere.
    body = await pay_with(client, f"/api/v1/orders/{order.id}/payment", token, "wechat_pay")
    assert (await press(body["next_action"]["qr_data"], "pay")).status_code == 200
    await asyncio.sleep(1.5)  # when the webhook would have come
    assert (await Order.get(id=order.id)).status == OrderStatus.PENDING_PAYMENT
    counts = await payments.reconcile(provider, now=datetime.now(UTC))
    assert counts.get("paid") == 1
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    assert not await WebhookEvent.filter(payment_id=body["payment_id"]).exists()


async def test_a_wechat_payment_is_refunded_in_part_then_in_full(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer, price_fen=10_000)
    async with webhooks_to(app, settings):
        body = await pay_with(client, f"/api/v1/orders/{order.id}/payment", token, "wechat_pay")
        await press(body["next_action"]["qr_data"], "pay")

        async def paid() -> bool:
            return (await Order.get(id=order.id)).status == OrderStatus.PAID

        await eventually(paid)
        admin = bearer(await token_for(await make_user(admin=True)))
        path = f"/api/v1/payments/{body['payment_id']}/refund"
        part = await client.post(path, json={"amount_fen": 3_000}, headers=admin)
        assert part.status_code == 200 and part.json()["refunded_fen"] == 3_000
        assert part.json()["status"] == "succeeded" and part.json()["method"] == "wechat_pay"
        rest = await client.post(path, json={}, headers=admin)
        assert rest.status_code == 200 and rest.json()["status"] == "refunded"
    payment = await Payment.get(id=body["payment_id"])
    intent = await intent_json(settings, payment.provider_intent_id or "")
    charge = intent["latest_charge"]
    charge_id = charge["id"] if isinstance(charge, dict) else charge
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{settings.stripe_api_base}/v1/charges/{charge_id}",
            headers={"Authorization": f"Bearer {settings.stripe_secret_key}"},
        )
    assert answer.json()["amount_refunded"] == 10_000  # the provider gave it all back


# ---- Alipay ---------------------------------------------------------------------------------


async def test_alipay_redirects_and_returns_and_the_webhook_delivers(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    back = f"{PUBLIC}/store/orders/{order.id}/paying"
    async with webhooks_to(app, settings):
        body = await pay_with(
            client, f"/api/v1/orders/{order.id}/payment", token, "alipay", return_url=back
        )
        action = body["next_action"]
        assert action["type"] == "redirect"
        assert action["url"].startswith(f"{settings.stripe_api_base}/_wallet/alipay/pi_")
        assert datetime.fromisoformat(action["expires_at"]) <= order.hold_expires_at
        returned = await press(action["url"], "pay")
        assert returned.status_code == 303
        location = urlsplit(returned.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == back
        assert parse_qs(location.query)["redirect_status"] == ["succeeded"]

        async def paid() -> bool:
            return (await order_status(client, order.id, token))["status"] == "paid"

        await eventually(paid)
    assert (await order_status(client, order.id, token))["payment_method"] == "alipay"


async def test_alipay_canceled_at_its_page_returns_a_failure_and_keeps_the_hold(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    back = f"{PUBLIC}/store/orders/{order.id}/paying"
    async with webhooks_to(app, settings):
        body = await pay_with(
            client, f"/api/v1/orders/{order.id}/payment", token, "alipay", return_url=back
        )
        returned = await press(body["next_action"]["url"], "decline")
        assert parse_qs(urlsplit(returned.headers["location"]).query)["redirect_status"] == [
            "failed"
        ]

        async def failed() -> bool:
            return (await Payment.get(id=body["payment_id"])).status == PaymentStatus.FAILED

        await eventually(failed)
    assert (await Order.get(id=order.id)).status == OrderStatus.PENDING_PAYMENT
    # The page it returns to sends the buyer back to checkout, saying why in their language.
    await sign_in(client, buyer.email)
    page = await client.get(returned.headers["location"].removeprefix(PUBLIC))
    assert page.status_code == 303 and page.headers["location"] == f"/store/orders/{order.id}/pay"
    checkout = await client.get(page.headers["location"], headers={"Accept-Language": "zh-CN"})
    assert "微信支付或支付宝" in checkout.text


async def test_alipay_return_before_its_webhook_settles_with_the_provider(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    await sign_in(client, buyer.email)
    # The browser's own pay call (the checkout form), then Alipay, then back: no webhook yet.
    body = await pay_with(
        client,
        f"/api/v1/orders/{order.id}/payment",
        token,
        "alipay",
        return_url=f"{PUBLIC}/store/orders/{order.id}/paying",
    )
    returned = await press(body["next_action"]["url"], "pay")
    page = await client.get(returned.headers["location"].removeprefix(PUBLIC))
    assert page.status_code == 303
    assert page.headers["location"] == f"/store/orders/{order.id}/receipt"
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    receipt = await client.get(page.headers["location"], headers={"Accept-Language": "zh-CN"})
    assert "支付宝" in receipt.text  # paid with, on the receipt


async def test_an_alipay_payment_is_refunded_through_the_same_refund_call(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer, price_fen=8_800)
    body = await pay_with(
        client,
        f"/api/v1/orders/{order.id}/payment",
        token,
        "alipay",
        return_url=f"{PUBLIC}/store/orders/{order.id}/paying",
    )
    await press(body["next_action"]["url"], "pay")
    await payments.reconcile(provider, now=datetime.now(UTC))
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    refunded = await store.refund_order(provider=provider, order_id=order.id, now=datetime.now(UTC))
    assert refunded.status == OrderStatus.REFUNDED
    payment = await Payment.get(id=body["payment_id"])
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_fen == 8_800


# ---- Enrollments ----------------------------------------------------------------------------


async def test_a_seat_is_paid_with_wechat_pay_and_another_with_alipay(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=5)
    async with webhooks_to(app, settings):
        for method in ("wechat_pay", "alipay"):
            person = await make_user()
            token = await token_for(person)
            held = await client.post(
                f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=bearer(token)
            )
            assert held.status_code == 201, held.text
            enrollment_id = held.json()["id"]
            extra = (
                {"return_url": f"{PUBLIC}/membership/enrollments/{enrollment_id}/paying"}
                if method == "alipay"
                else {}
            )
            body = await pay_with(
                client, f"/api/v1/enrollments/{enrollment_id}/payment", token, method, **extra
            )
            action = body["next_action"]
            await press(action.get("qr_data") or action["url"], "pay")

            async def paid(enrollment_id: int = enrollment_id) -> bool:
                return (await Enrollment.get(id=enrollment_id)).status == EnrollmentStatus.PAID

            await eventually(paid)
            seen = await client.get(f"/api/v1/enrollments/{enrollment_id}", headers=bearer(token))
            assert seen.json()["payment_method"] == method


async def test_a_seat_whose_qr_code_is_abandoned_goes_back_when_the_hold_expires(
    client: httpx.AsyncClient, provider: PaymentProvider
) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=1)
    person = await make_user()
    token = await token_for(person)
    held = await client.post(
        f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=bearer(token)
    )
    enrollment = await Enrollment.get(id=held.json()["id"])
    body = await pay_with(
        client, f"/api/v1/enrollments/{enrollment.id}/payment", token, "wechat_pay"
    )
    later = enrollment.hold_expires_at + timedelta(seconds=1)
    assert await membership.release_expired_holds(provider=provider, now=later) == 1
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.EXPIRED
    assert (await Payment.get(id=body["payment_id"])).status == PaymentStatus.FAILED
    async with httpx.AsyncClient() as http:
        assert (await http.get(body["next_action"]["qr_data"])).status_code == 410


# ---- What the pay call takes ----------------------------------------------------------------


async def test_the_pay_call_takes_exactly_one_of_its_forms(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer)
    path = f"/api/v1/orders/{order.id}/payment"
    refused = {
        "both forms": {"payment_method": "pm_card_visa", "method": "wechat_pay"},
        "neither": {},
        "Alipay without return_url": {"method": "alipay"},
        "return_url elsewhere": {"method": "alipay", "return_url": "https://evil.example/x"},
        "return_url not http": {"method": "alipay", "return_url": "javascript:alert(1)"},
        "return_url for WeChat": {"method": "wechat_pay", "return_url": f"{PUBLIC}/x"},
        "an unknown method": {"method": "paypal"},
        "a method that is not a string": {"method": 3},
    }
    for case, body in refused.items():
        answer = await client.post(path, json=body, headers=bearer(token))
        assert answer.status_code == 422, (case, answer.text)
        assert answer.json()["error"]["code"] in ("invalid_field", "validation_error"), case
    assert not await Payment.exists()  # nothing reached the provider
    fine = await client.post(
        path,
        json={
            "method": "alipay",
            "return_url": f"{settings.public_url}/store/orders/{order.id}/paying",
        },
        headers=bearer(token),
    )
    assert fine.status_code == 200  # the public address counts as ours too


async def test_a_method_the_operator_turned_off_is_refused_and_not_offered(
    settings: Settings,
) -> None:
    only_cards = create_app(
        dataclasses.replace(settings, payment_methods=("card",)),
        manage_database=False,
        background_tasks=False,
    )
    try:
        transport = httpx.ASGITransport(app=only_cards)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as http:
            buyer = await make_user()
            order = await held_order(buyer)
            answer = await http.post(
                f"/api/v1/orders/{order.id}/payment",
                json={"method": "wechat_pay"},
                headers=bearer(await token_for(buyer)),
            )
            assert answer.status_code == 422
            assert answer.json()["error"]["field"] == "method"
            await sign_in(http, buyer.email)
            page = await http.get(f"/store/orders/{order.id}/pay")
            assert 'value="card"' in page.text and 'value="wechat_pay"' not in page.text
    finally:
        await only_cards.state.counter.aclose()
        await only_cards.state.payments_provider.aclose()


async def test_a_scan_paid_just_before_the_hold_ran_out_is_delivered_not_released(
    client: httpx.AsyncClient, provider: PaymentProvider
) -> None:
    """The buyer pays in WeChat; its webhook is lost; then the release job comes for the
    expired hold. It asks the provider before releasing, finds the payment succeeded, and the
    order is paid instead of cancelled."""
    buyer = await make_user()
    token = await token_for(buyer)
    order = await held_order(buyer, stock=1)
    body = await pay_with(client, f"/api/v1/orders/{order.id}/payment", token, "wechat_pay")
    await press(body["next_action"]["qr_data"], "pay")
    later = order.hold_expires_at + timedelta(seconds=1)
    assert await store.release_expired_orders(provider=provider, now=later) == 0
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    assert await StockUnit.filter(order_id__isnull=True).count() == 0


async def _held_seat(client: httpx.AsyncClient, seats: int = 3) -> tuple[Any, str, int]:
    window = await make_window(now=datetime.now(UTC), seats=seats)
    person = await make_user()
    token = await token_for(person)
    held = await client.post(
        f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=bearer(token)
    )
    assert held.status_code == 201, held.text
    return person, token, int(held.json()["id"])


async def test_a_seat_declined_in_alipay_stays_held_then_a_lost_wechat_webhook_is_reconciled(
    app: Starlette, client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    _, token, enrollment_id = await _held_seat(client)
    path = f"/api/v1/enrollments/{enrollment_id}/payment"
    back = f"{PUBLIC}/membership/enrollments/{enrollment_id}/paying"
    async with webhooks_to(app, settings):
        first = await pay_with(client, path, token, "alipay", return_url=back)
        await press(first["next_action"]["url"], "decline")

        async def failed() -> bool:
            return (await Payment.get(id=first["payment_id"])).status == PaymentStatus.FAILED

        await eventually(failed)
    assert (await Enrollment.get(id=enrollment_id)).status == EnrollmentStatus.PENDING_PAYMENT
    # Webhooks lost from here on: the WeChat payment is settled by reconciliation.
    second = await pay_with(client, path, token, "wechat_pay")
    await press(second["next_action"]["qr_data"], "pay")
    await asyncio.sleep(1.5)
    assert (await Enrollment.get(id=enrollment_id)).status == EnrollmentStatus.PENDING_PAYMENT
    assert (await payments.reconcile(provider, now=datetime.now(UTC))).get("paid") == 1
    assert (await Enrollment.get(id=enrollment_id)).status == EnrollmentStatus.PAID


async def test_a_seat_paid_with_alipay_returns_before_its_webhook_and_is_refunded(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    person, token, enrollment_id = await _held_seat(client)
    await sign_in(client, person.email)
    body = await pay_with(
        client,
        f"/api/v1/enrollments/{enrollment_id}/payment",
        token,
        "alipay",
        return_url=f"{PUBLIC}/membership/enrollments/{enrollment_id}/paying",
    )
    returned = await press(body["next_action"]["url"], "pay")
    page = await client.get(returned.headers["location"].removeprefix(PUBLIC))
    assert (
        page.status_code == 303 and page.headers["location"] == "/membership/welcome"
    )  # the welcome (issue 27)
    assert (await Enrollment.get(id=enrollment_id)).status == EnrollmentStatus.PAID
    admin = bearer(await token_for(await make_user(admin=True)))
    refunded = await client.post(f"/api/v1/admin/enrollments/{enrollment_id}/refund", headers=admin)
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["payment_method"] == "alipay"
    payment = await Payment.get(id=body["payment_id"])
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_fen == payment.amount_fen
    intent = await intent_json(settings, payment.provider_intent_id or "")
    assert intent["status"] == "succeeded"  # refunded through its charge, as Stripe does


async def test_a_qr_code_whose_confirm_times_out_is_canceled_and_a_new_one_is_paid(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    """The provider made the code but its answer to our confirm is lost (a 503 after
    forwarding): the code is canceled at once, nothing can be charged, the hold stays, and the
    buyer's next try gets a new code that pays."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from payments.errors import PaymentUnavailable
    from tests.payments.conftest import provider_at, proxy_to

    async def lose_the_answer(request: Request, forward):  # type: ignore[no-untyped-def]
        response = await forward()
        if request.url.path.endswith("/confirm"):
            return JSONResponse({"error": {"message": "upstream down"}}, status_code=503)
        return response

    buyer = await make_user()
    order = await held_order(buyer)
    async with proxy_to(settings.stripe_api_base, lose_the_answer) as url:
        flaky = provider_at(settings, url)
        try:
            with pytest.raises(PaymentUnavailable):  # what the buyer hears: try again
                await store.pay_order(
                    provider=flaky,
                    order_id=order.id,
                    user=buyer,
                    choice=payments.PaymentChoice(method="wechat_pay"),
                    now=datetime.now(UTC),
                )
        finally:
            await flaky.aclose()
    lost = await Payment.get(purpose="order")
    assert lost.status == PaymentStatus.FAILED and lost.action_url is None
    assert (await intent_json(settings, lost.provider_intent_id or ""))["status"] == "canceled"
    assert (await Order.get(id=order.id)).status == OrderStatus.PENDING_PAYMENT  # still held

    body = await pay_with(
        client, f"/api/v1/orders/{order.id}/payment", await token_for(buyer), "wechat_pay"
    )
    assert body["payment_id"] != lost.id
    await press(body["next_action"]["qr_data"], "pay")
    await payments.reconcile(provider, now=datetime.now(UTC))
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
