"""The checkouts (a store order, an enrollment) run through payments.provider.PaymentProvider
only: the same tests pass against the Stripe adapter (over localstripe) and against the tests'
in-memory provider (tests/payments/memory_provider.py), which pays, declines or answers late
as it is told. A provider is handed to the app by the factory; nothing else names one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from accounts.models import Notification, User
from app import create_app
from composition import AppWiring
from membership import services as membership
from membership.models import Enrollment, EnrollmentStatus
from payments import services as payments
from payments.models import Payment, PaymentStatus
from payments.provider import PaymentProvider
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus
from tests.factories import SHIPPING, bearer, make_user, make_window, token_for
from tests.payments.memory_provider import Behaviour, MemoryProvider

# What each provider is told to do, and the card that makes localstripe do the same.
STRIPE_CARDS = {"pays": "pm_card_visa", "declines": "pm_card_chargeCustomerFail"}


@dataclass
class Checkout:
    client: httpx.AsyncClient
    app: Starlette
    provider: PaymentProvider
    card: str  # the payment method the buyer sends

    def pays_now(self) -> None:
        """From now on the payer's bank says yes (the buyer tries another card)."""
        if isinstance(self.provider, MemoryProvider):
            self.provider.behaviour = "pays"
        self.card = STRIPE_CARDS["pays"]


@asynccontextmanager
async def checkout(
    settings: Settings, wired: AppWiring, kind: str, behaviour: Behaviour
) -> AsyncIterator[Checkout]:
    provider: PaymentProvider | None = MemoryProvider(behaviour) if kind == "memory" else None
    app = create_app(
        settings,
        manage_database=False,
        background_tasks=False,
        wired=wired,
        payments_provider=provider,
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Checkout(
                client,
                app,
                app.state.payments_provider,
                "pm_memory" if kind == "memory" else STRIPE_CARDS[behaviour],
            )
    finally:
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()
        app.state.pictures.close()


PROVIDERS = pytest.mark.parametrize("kind", ["stripe", "memory"])


async def _held_order(client: httpx.AsyncClient, buyer: User) -> tuple[int, dict[str, str]]:
    product = await store.create_product(
        title="《精神粮食》", description="", category="精神粮食", price_fen=6_800, stock=1
    )
    headers = bearer(await token_for(buyer))
    created = await client.post(
        "/api/v1/orders",
        json={"items": [{"product_id": product.id, "quantity": 1}]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"]), headers


async def _held_seat(client: httpx.AsyncClient, buyer: User) -> tuple[int, dict[str, str]]:
    window = await make_window(now=datetime.now(UTC), seats=1)
    headers = bearer(await token_for(buyer))
    held = await client.post(f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=headers)
    assert held.status_code == 201, held.text
    return int(held.json()["id"]), headers


@PROVIDERS
async def test_a_paid_order_is_sold_and_the_buyer_told(
    settings: Settings, wired: AppWiring, kind: str
) -> None:
    async with checkout(settings, wired, kind, "pays") as paying:
        buyer = await make_user()
        order_id, headers = await _held_order(paying.client, buyer)
        paid = await paying.client.post(
            f"/api/v1/orders/{order_id}/payment",
            json={"payment_method": paying.card, "shipping": SHIPPING},
            headers=headers,
        )
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "paid"
    assert (await Order.get(id=order_id)).status == OrderStatus.PAID
    assert await Notification.filter(user_id=buyer.id, kind="order_paid").count() == 1


@PROVIDERS
async def test_a_declined_order_stays_held_and_is_paid_with_the_next_card(
    settings: Settings, wired: AppWiring, kind: str
) -> None:
    async with checkout(settings, wired, kind, "declines") as paying:
        order_id, headers = await _held_order(paying.client, await make_user())
        body = {"payment_method": paying.card, "shipping": SHIPPING}
        declined = await paying.client.post(
            f"/api/v1/orders/{order_id}/payment", json=body, headers=headers
        )
        assert declined.status_code == 200, declined.text
        assert declined.json()["status"] == "failed"
        assert (await Order.get(id=order_id)).status == OrderStatus.PENDING_PAYMENT
        paying.pays_now()
        body["payment_method"] = paying.card
        paid = await paying.client.post(
            f"/api/v1/orders/{order_id}/payment", json=body, headers=headers
        )
        assert paid.json()["status"] == "paid", paid.text
    assert (await Order.get(id=order_id)).status == OrderStatus.PAID


@PROVIDERS
async def test_a_paid_seat_makes_a_member(settings: Settings, wired: AppWiring, kind: str) -> None:
    async with checkout(settings, wired, kind, "pays") as paying:
        buyer = await make_user()
        enrollment_id, headers = await _held_seat(paying.client, buyer)
        paid = await paying.client.post(
            f"/api/v1/enrollments/{enrollment_id}/payment",
            json={"payment_method": paying.card},
            headers=headers,
        )
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "paid"
    assert (await Enrollment.get(id=enrollment_id)).status == EnrollmentStatus.PAID
    assert membership.is_member(await User.get(id=buyer.id), at=datetime.now(UTC))


@PROVIDERS
async def test_a_declined_seat_stays_held(settings: Settings, wired: AppWiring, kind: str) -> None:
    async with checkout(settings, wired, kind, "declines") as paying:
        buyer = await make_user()
        enrollment_id, headers = await _held_seat(paying.client, buyer)
        declined = await paying.client.post(
            f"/api/v1/enrollments/{enrollment_id}/payment",
            json={"payment_method": paying.card},
            headers=headers,
        )
        assert declined.json()["status"] == "failed", declined.text
    assert (await Enrollment.get(id=enrollment_id)).status == EnrollmentStatus.PENDING_PAYMENT
    assert not membership.is_member(await User.get(id=buyer.id), at=datetime.now(UTC))


async def test_a_provider_that_answers_late_leaves_the_order_held_until_reconciliation(
    settings: Settings, wired: AppWiring
) -> None:
    """The confirm reaches the provider and the payer pays, but no answer comes back: the
    buyer hears 503 payment_unavailable and is not charged twice; once the provider answers
    again, reconciliation reads the success back and the order is paid, once."""
    async with checkout(settings, wired, "memory", "late") as paying:
        order_id, headers = await _held_order(paying.client, await make_user())
        body = {"payment_method": paying.card, "shipping": SHIPPING}
        lost = await paying.client.post(
            f"/api/v1/orders/{order_id}/payment", json=body, headers=headers
        )
        assert lost.status_code == 503, lost.text
        assert lost.json()["error"]["code"] == "payment_unavailable"
        assert (await Order.get(id=order_id)).status == OrderStatus.PENDING_PAYMENT
        assert isinstance(paying.provider, MemoryProvider)
        paying.provider.answering = True
        await payments.reconcile(paying.provider, now=datetime.now(UTC))
    assert (await Order.get(id=order_id)).status == OrderStatus.PAID
    assert await Payment.filter(status=PaymentStatus.SUCCEEDED).count() == 1


async def test_the_in_memory_providers_notifications_are_verified_by_it(
    settings: Settings, wired: AppWiring
) -> None:
    """A notification reaches the app's webhook through the provider's own verification: a
    signed one is applied (read back first), the same one repeated is a duplicate, a forged
    one is 400."""
    async with checkout(settings, wired, "memory", "late") as paying:
        order_id, headers = await _held_order(paying.client, await make_user())
        await paying.client.post(
            f"/api/v1/orders/{order_id}/payment",
            json={"payment_method": paying.card, "shipping": SHIPPING},
            headers=headers,
        )
        assert isinstance(paying.provider, MemoryProvider)
        paying.provider.answering = True
        intent_id = (await Payment.get()).provider_intent_id
        assert intent_id is not None
        payload, signed = paying.provider.notification("payment_intent.succeeded", intent_id)
        forged = await paying.client.post(
            "/payments/webhook", content=payload, headers={"X-Memory-Signature": "0" * 64}
        )
        assert forged.status_code == 400
        applied = await paying.client.post("/payments/webhook", content=payload, headers=signed)
        assert applied.status_code == 200, applied.text
        assert applied.json()["result"] == "applied"
        # The same notification again (a provider's retry) is acknowledged and changes nothing.
        again = await paying.client.post("/payments/webhook", content=payload, headers=signed)
        assert again.status_code == 200 and again.json()["result"] == "duplicate", again.text
    assert (await Order.get(id=order_id)).status == OrderStatus.PAID
