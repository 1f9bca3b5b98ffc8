"""Store orders when paying goes wrong: declines, a provider that pauses, the buyer's cancel,
a success that arrives after the order was released, and what reconciliation repairs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.requests import Request

from accounts.models import Notification, User
from app import create_app
from payments import services as payments
from payments.models import Payment, PaymentStatus, Settlement
from payments.provider import PaymentProvider
from payments.services import PaymentChoice
from payments.settle import settle_succeeded
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus, Product, StockUnit
from tests.factories import address, bearer, card_payment_method, make_user, token_for
from tests.payments.conftest import proxy_to
from tests.payments.world import Bank

CARD_3DS = "4000002500003155"
CARD_DECLINED = "4000000000000341"


async def a_product(**overrides: object) -> Product:
    fields: dict[str, object] = {
        "title": "签名本",
        "description": "",
        "category": "书",
        "price_fen": 6_800,
        "stock": 1,
    }
    fields.update(overrides)
    return await store.create_product(**fields)  # type: ignore[arg-type]


async def hold(user: User, product: Product, now: datetime | None = None) -> Order:
    return await store.place_order(
        buyer=user,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=now or datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )


async def units_left(product: Product) -> int:
    return await StockUnit.filter(product_id=product.id, order_id__isnull=True).count()


async def test_a_declined_card_then_a_good_one_pays_the_same_order_within_its_hold(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    buyer = await make_user()
    product = await a_product()
    order = await hold(buyer, product)
    headers = bearer(await token_for(buyer))
    declined = await client.post(
        f"/api/v1/orders/{order.id}/payment",
        json={"payment_method": await card_payment_method(settings, CARD_DECLINED)},
        headers=headers,
    )
    assert declined.json()["status"] == "failed"
    assert (await client.get(f"/api/v1/orders/{order.id}", headers=headers)).json()[
        "status"
    ] == "pending_payment"
    assert await units_left(product) == 0  # still held for this buyer
    paid = await client.post(
        f"/api/v1/orders/{order.id}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert paid.json()["status"] == "paid"
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    assert (
        await Payment.filter(subject_id=str(order.id), status=PaymentStatus.SUCCEEDED).count() == 1
    )


@pytest.fixture
async def pausing_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    """The app with its provider behind a proxy that pauses its first call for 10 seconds
    (longer than the provider timeout), then answers every call at once."""
    calls: list[str] = []

    async def pause_first(request: Request, forward):  # type: ignore[no-untyped-def]
        calls.append(request.url.path)
        if len(calls) == 1:
            await asyncio.sleep(10)
        return await forward()

    async with proxy_to(settings.stripe_api_base, pause_first) as url:
        app = create_app(
            replace(settings, stripe_api_base=url), manage_database=False, background_tasks=False
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, calls
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()


@pytest.mark.postgres_only
async def test_a_provider_that_pauses_answers_503_and_a_retry_pays_the_same_order(
    pausing_client: tuple[httpx.AsyncClient, list[str]],
) -> None:
    client, calls = pausing_client
    buyer = await make_user()
    product = await a_product()
    order = await hold(buyer, product)
    headers = bearer(await token_for(buyer))
    paused = await client.post(
        f"/api/v1/orders/{order.id}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert paused.status_code == 503
    assert paused.json()["error"]["code"] == "payment_unavailable"
    assert (await Order.get(id=order.id)).status == OrderStatus.PENDING_PAYMENT
    retry = await client.post(
        f"/api/v1/orders/{order.id}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "paid"
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    assert calls[0].endswith("/payment_intents")


async def test_the_buyer_cancels_a_pending_order_and_its_units_return_at_once(
    client: httpx.AsyncClient,
) -> None:
    buyer = await make_user()
    product = await a_product(per_customer_limit=1)
    order = await hold(buyer, product)
    headers = bearer(await token_for(buyer))
    other = bearer(await token_for(await make_user()))
    assert (
        await client.post(f"/api/v1/orders/{order.id}/cancel", headers=other)
    ).status_code == 404
    cancelled = await client.post(f"/api/v1/orders/{order.id}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json() == {"id": order.id, "status": "cancelled"}
    assert await units_left(product) == 1
    again = await client.post(f"/api/v1/orders/{order.id}/cancel", headers=headers)
    assert again.json() == {"id": order.id, "status": "cancelled"}
    assert (await hold(buyer, product)).status == OrderStatus.PENDING_PAYMENT  # allowance back


async def test_a_paid_order_cannot_be_cancelled(client: httpx.AsyncClient) -> None:
    buyer = await make_user()
    order = await hold(buyer, await a_product())
    headers = bearer(await token_for(buyer))
    await client.post(
        f"/api/v1/orders/{order.id}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    refused = await client.post(f"/api/v1/orders/{order.id}/cancel", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "already_paid"
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID


async def test_cancelling_with_3d_secure_under_way_cancels_the_intent_first(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    buyer = await make_user()
    product = await a_product()
    order = await hold(buyer, product)
    headers = bearer(await token_for(buyer))
    started = await client.post(
        f"/api/v1/orders/{order.id}/payment",
        json={"payment_method": await card_payment_method(settings, CARD_3DS)},
        headers=headers,
    )
    assert started.json()["status"] == "requires_action"
    cancelled = await client.post(f"/api/v1/orders/{order.id}/cancel", headers=headers)
    assert cancelled.status_code == 200
    payment = await Payment.get(subject_id=str(order.id))
    assert payment.status == PaymentStatus.FAILED
    assert payment.provider_intent_id is not None
    async with httpx.AsyncClient(base_url=settings.stripe_api_base) as http:
        bank = Bank(settings, http, client, payment.provider_intent_id)
        assert (await bank.intent())["status"] == "canceled"
        assert not await bank.succeed()  # the shopper's bank can no longer take the money
    assert await units_left(product) == 1


async def test_the_html_order_page_cancels_without_javascript(client: httpx.AsyncClient) -> None:
    from tests.factories import csrf_from, sign_in

    buyer = await make_user()
    product = await a_product()
    order = await hold(buyer, product)
    await sign_in(client, buyer.email)
    page = await client.get(f"/store/orders/{order.id}")
    assert f'action="/store/orders/{order.id}/cancel"' in page.text
    done = await client.post(
        f"/store/orders/{order.id}/cancel", data={"csrf_token": csrf_from(page.text)}
    )
    assert done.status_code == 303
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    assert await units_left(product) == 1


async def _released_with_a_failed_payment(
    client: httpx.AsyncClient,
    settings: Settings,
    provider: PaymentProvider,
    http: httpx.AsyncClient,
    product: Product,
    buyer: User,
) -> tuple[Order, Bank]:
    """An order whose 3-D Secure failed, then whose hold ran out: released, units back."""
    now = datetime.now(UTC)
    order = await hold(buyer, product, now)
    result = await store.pay_order(
        provider=provider,
        order_id=order.id,
        user=buyer,
        choice=PaymentChoice(payment_method=await card_payment_method(settings, CARD_3DS)),
        now=now,
    )
    assert result.payment.provider_intent_id is not None
    bank = Bank(settings, http, client, result.payment.provider_intent_id)
    assert await bank.fail()
    assert await store.release_expired_orders(provider=provider, now=now + timedelta(minutes=11))
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    return order, bank


async def test_a_success_after_release_is_fulfilled_when_the_units_are_still_there(
    client: httpx.AsyncClient, settings: Settings, provider: PaymentProvider
) -> None:
    buyer = await make_user()
    product = await a_product(per_customer_limit=1)
    async with httpx.AsyncClient(base_url=settings.stripe_api_base) as http:
        order, bank = await _released_with_a_failed_payment(
            client, settings, provider, http, product, buyer
        )
        assert await bank.succeed()  # the shopper retried on the same intent: it succeeded
    paid = await Order.get(id=order.id)
    assert paid.status == OrderStatus.PAID
    payment = await Payment.get(subject_id=str(order.id))
    assert (payment.status, payment.settlement) == (PaymentStatus.SUCCEEDED, Settlement.FULFILLED)
    assert paid.payment_id == payment.id
    assert await units_left(product) == 0
    assert await Notification.filter(user_id=buyer.id, kind="order_paid_late").count() == 1


async def test_a_success_after_release_is_refunded_when_the_units_are_gone(
    client: httpx.AsyncClient, settings: Settings, provider: PaymentProvider
) -> None:
    buyer, rival = await make_user(), await make_user()
    product = await a_product()
    async with httpx.AsyncClient(base_url=settings.stripe_api_base) as http:
        order, bank = await _released_with_a_failed_payment(
            client, settings, provider, http, product, buyer
        )
        await hold(rival, product)  # the unit went to someone else
        assert await bank.succeed()
        assert await bank.amount_refunded() == 6_800
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    payment = await Payment.get(subject_id=str(order.id))
    assert (payment.status, payment.settlement) == (PaymentStatus.REFUNDED, Settlement.REFUNDED)
    assert payment.refunded_fen == 6_800
    assert await Notification.filter(user_id=buyer.id, kind="order_refunded_late").count() == 1


async def test_a_success_after_the_sale_ended_is_refunded(
    client: httpx.AsyncClient, settings: Settings, provider: PaymentProvider
) -> None:
    now = datetime.now(UTC)
    buyer = await make_user()
    product = await a_product(sale_ends_at=now + timedelta(minutes=5))
    async with httpx.AsyncClient(base_url=settings.stripe_api_base) as http:
        order, bank = await _released_with_a_failed_payment(
            client, settings, provider, http, product, buyer
        )
        assert await bank.succeed(tell=False)  # its webhook comes after the sale ended
        payment = await Payment.get(subject_id=str(order.id))
        intent = await provider.retrieve_intent(bank.intent_id)
        assert await settle_succeeded(provider, payment.id, intent, now=now + timedelta(minutes=6))
        assert await bank.amount_refunded() == 6_800
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    refunded = await Payment.get(id=payment.id)
    assert (refunded.status, refunded.settlement) == (PaymentStatus.REFUNDED, Settlement.REFUNDED)
    assert await units_left(product) == 1


async def test_a_success_after_release_over_the_buyers_limit_is_refunded(
    client: httpx.AsyncClient, settings: Settings, provider: PaymentProvider
) -> None:
    buyer = await make_user()
    product = await a_product(stock=3, per_customer_limit=1)
    async with httpx.AsyncClient(base_url=settings.stripe_api_base) as http:
        order, bank = await _released_with_a_failed_payment(
            client, settings, provider, http, product, buyer
        )
        await hold(buyer, product)  # the buyer ordered it again meanwhile: at the limit
        assert await bank.succeed()
        assert await bank.amount_refunded() == 6_800
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    assert (await Payment.get(subject_id=str(order.id))).settlement == Settlement.REFUNDED


async def test_reconciliation_repairs_a_paid_order_the_old_code_left_cancelled(
    provider: PaymentProvider,
) -> None:
    """The earlier code marked such a payment fulfilled while leaving its order cancelled and
    its unit on sale: money kept, nothing delivered. Seeded as it left it."""
    now = datetime.now(UTC)
    buyer, rival = await make_user(), await make_user()
    kept = await a_product(stock=2)
    gone = await a_product(stock=1)
    seeded = []
    for product in (kept, gone):
        order = await hold(buyer, product, now)
        await store.cancel_order(provider=provider, order_id=order.id, user=buyer, now=now)
        intent = await provider.create_intent(
            amount=order.total_fen,
            currency="cny",
            payment_method="pm_card_visa",
            metadata={},
            idempotency_key=f"test-old-{order.id}",
        )
        await provider.confirm_intent(intent.id, idempotency_key=f"test-old-confirm-{order.id}")
        payment = await Payment.create(
            user_id=buyer.id,
            purpose="order",
            subject_id=str(order.id),
            amount_fen=order.total_fen,
            status=PaymentStatus.SUCCEEDED,
            active_key=f"order:{order.id}",
            provider_intent_id=intent.id,
            fulfilled_at=now,
        )
        seeded.append((order, payment))
    await hold(rival, gone, now)  # the unit of the second one was sold again

    counts = await payments.reconcile(provider, now=now)
    # ...and the success recorded without the provider's word is read back once: confirmed.
    assert counts == {
        "repaired_fulfilled": 1,
        "repaired_refund_due": 1,
        "refunded": 1,
        "confirmed": 1,
    }
    (kept_order, kept_payment), (gone_order, gone_payment) = seeded
    assert (await Order.get(id=kept_order.id)).status == OrderStatus.PAID
    assert (await Payment.get(id=kept_payment.id)).settlement == Settlement.FULFILLED
    assert (await Order.get(id=gone_order.id)).status == OrderStatus.CANCELLED
    refunded = await Payment.get(id=gone_payment.id)
    assert (refunded.status, refunded.settlement) == (PaymentStatus.REFUNDED, Settlement.REFUNDED)
    assert await payments.reconcile(provider, now=now) == {}  # nothing left to repair
