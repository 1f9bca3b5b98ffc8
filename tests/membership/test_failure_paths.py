"""Enrollments when paying goes wrong: declines, a provider that pauses, the holder's cancel, a
success that arrives after the seat was released, and what reconciliation repairs."""

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
from membership import services as membership
from membership import windows
from membership.models import Enrollment, EnrollmentStatus, EnrollmentWindow
from payments import services as payments
from payments.models import Payment, PaymentStatus, Refund, Settlement
from payments.provider import PaymentProvider
from payments.services import PaymentChoice
from payments.settle import settle_succeeded
from settings import Settings
from tests.factories import (
    bearer,
    card_payment_method,
    csrf_from,
    make_user,
    make_window,
    sign_in,
    token_for,
)
from tests.payments.conftest import proxy_to
from tests.payments.world import Bank

CARD_3DS = "4000002500003155"
CARD_DECLINED = "4000000000000341"


async def seats_left(window: EnrollmentWindow) -> int:
    return await windows.seats_left(window, now=datetime.now(UTC))


async def test_a_declined_card_then_a_good_one_pays_the_same_seat_within_its_hold(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    buyer = await make_user()
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=datetime.now(UTC))
    headers = bearer(await token_for(buyer))
    declined = await client.post(
        f"/api/v1/enrollments/{enrollment.id}/payment",
        json={"payment_method": await card_payment_method(settings, CARD_DECLINED)},
        headers=headers,
    )
    assert declined.json()["status"] == "failed"
    assert await seats_left(window) == 0  # still held for this person
    paid = await client.post(
        f"/api/v1/enrollments/{enrollment.id}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert paid.json()["status"] == "paid"
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.PAID
    assert (await User.get(id=buyer.id)).member_until is not None


@pytest.fixture
async def pausing_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its provider behind a proxy that pauses its first call for 10 seconds."""
    calls = 0

    async def pause_first(request: Request, forward):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(10)
        return await forward()

    async with proxy_to(settings.stripe_api_base, pause_first) as url:
        app = create_app(
            replace(settings, stripe_api_base=url), manage_database=False, background_tasks=False
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()


@pytest.mark.postgres_only
async def test_a_provider_that_pauses_answers_503_and_a_retry_pays_the_same_seat(
    pausing_client: httpx.AsyncClient,
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    buyer = await make_user()
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=datetime.now(UTC))
    headers = bearer(await token_for(buyer))
    url = f"/api/v1/enrollments/{enrollment.id}/payment"
    paused = await pausing_client.post(
        url, json={"payment_method": "pm_card_visa"}, headers=headers
    )
    assert paused.status_code == 503
    assert paused.json()["error"]["code"] == "payment_unavailable"
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.PENDING_PAYMENT
    retry = await pausing_client.post(url, json={"payment_method": "pm_card_visa"}, headers=headers)
    assert retry.json()["status"] == "paid", retry.text
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.PAID


async def test_the_holder_gives_a_seat_back_and_it_returns_at_once(
    client: httpx.AsyncClient,
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    buyer = await make_user()
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=datetime.now(UTC))
    headers = bearer(await token_for(buyer))
    other = bearer(await token_for(await make_user()))
    url = f"/api/v1/enrollments/{enrollment.id}/cancel"
    assert (await client.post(url, headers=other)).status_code == 404
    cancelled = await client.post(url, headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json() == {"id": enrollment.id, "status": "cancelled"}
    assert await seats_left(window) == 1
    assert (await client.post(url, headers=headers)).json()["status"] == "cancelled"
    again = await client.post(
        f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=headers
    )
    assert again.status_code == 201  # the person may enroll again


async def test_a_paid_seat_cannot_be_given_back(client: httpx.AsyncClient) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    buyer = await make_user()
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=datetime.now(UTC))
    headers = bearer(await token_for(buyer))
    await client.post(
        f"/api/v1/enrollments/{enrollment.id}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    refused = await client.post(f"/api/v1/enrollments/{enrollment.id}/cancel", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "already_paid"


async def test_giving_back_with_3d_secure_under_way_cancels_the_intent_first(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    buyer = await make_user()
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=datetime.now(UTC))
    headers = bearer(await token_for(buyer))
    started = await client.post(
        f"/api/v1/enrollments/{enrollment.id}/payment",
        json={"payment_method": await card_payment_method(settings, CARD_3DS)},
        headers=headers,
    )
    assert started.json()["status"] == "requires_action"
    assert (
        await client.post(f"/api/v1/enrollments/{enrollment.id}/cancel", headers=headers)
    ).status_code == 200
    payment = await Payment.get(subject_id=str(enrollment.id))
    assert payment.provider_intent_id is not None
    async with httpx.AsyncClient(base_url=settings.stripe_api_base) as http:
        bank = Bank(settings, http, client, payment.provider_intent_id)
        assert (await bank.intent())["status"] == "canceled"
    assert await seats_left(window) == 1


async def test_the_html_checkout_gives_the_seat_back_without_javascript(
    client: httpx.AsyncClient,
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    buyer = await make_user()
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=datetime.now(UTC))
    await sign_in(client, buyer.email)
    page = await client.get(f"/membership/enrollments/{enrollment.id}/pay")
    assert f'action="/membership/enrollments/{enrollment.id}/cancel"' in page.text
    done = await client.post(
        f"/membership/enrollments/{enrollment.id}/cancel",
        data={"csrf_token": csrf_from(page.text)},
    )
    assert done.status_code == 303
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.CANCELLED


async def _released_with_a_failed_payment(
    client: httpx.AsyncClient,
    settings: Settings,
    provider: PaymentProvider,
    http: httpx.AsyncClient,
    window: EnrollmentWindow,
    buyer: User,
) -> tuple[Enrollment, Bank]:
    """An enrollment whose 3-D Secure failed, then whose hold ran out: its seat given back."""
    now = datetime.now(UTC)
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=now)
    result = await membership.pay_enrollment(
        provider=provider,
        enrollment_id=enrollment.id,
        user=buyer,
        choice=PaymentChoice(payment_method=await card_payment_method(settings, CARD_3DS)),
        now=now,
    )
    assert result.payment.provider_intent_id is not None
    bank = Bank(settings, http, client, result.payment.provider_intent_id)
    assert await bank.fail()
    released = await membership.release_expired_holds(
        provider=provider, now=now + timedelta(minutes=16)
    )
    assert released == 1
    return enrollment, bank


async def test_a_success_after_release_takes_a_free_seat_again(
    client: httpx.AsyncClient, settings: Settings, provider: PaymentProvider
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    buyer = await make_user()
    async with httpx.AsyncClient(base_url=settings.stripe_api_base) as http:
        enrollment, bank = await _released_with_a_failed_payment(
            client, settings, provider, http, window, buyer
        )
        assert await bank.succeed()
    paid = await Enrollment.get(id=enrollment.id)
    assert paid.status == EnrollmentStatus.PAID
    assert (await Payment.get(id=paid.payment_id)).settlement == Settlement.FULFILLED
    assert (await User.get(id=buyer.id)).member_until is not None
    assert await seats_left(window) == 0
    assert await Notification.filter(user_id=buyer.id, kind="enrollment_paid_late").count() == 1


async def test_a_success_after_release_is_refunded_when_no_seat_is_left(
    client: httpx.AsyncClient, settings: Settings, provider: PaymentProvider
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    buyer, rival = await make_user(), await make_user()
    async with httpx.AsyncClient(base_url=settings.stripe_api_base) as http:
        enrollment, bank = await _released_with_a_failed_payment(
            client, settings, provider, http, window, buyer
        )
        await membership.enroll(window_id=window.id, user=rival, now=datetime.now(UTC))
        assert await bank.succeed()
        assert await bank.amount_refunded() == window.price_fen
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.EXPIRED
    payment = await Payment.get(subject_id=str(enrollment.id))
    assert (payment.status, payment.settlement) == (PaymentStatus.REFUNDED, Settlement.REFUNDED)
    assert (await User.get(id=buyer.id)).member_until is None
    assert await Notification.filter(user_id=buyer.id, kind="enrollment_refunded_late").count() == 1
    # The money came (the day it succeeded) and went back (an automatic refund, one row).
    assert payment.succeeded_at is not None
    assert await Refund.filter(payment_id=payment.id).values_list("amount_fen", "automatic") == [
        (window.price_fen, True)
    ]


async def test_a_success_after_the_window_closed_is_refunded(
    client: httpx.AsyncClient, settings: Settings, provider: PaymentProvider
) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=5, lasts=timedelta(minutes=30))
    buyer = await make_user()
    async with httpx.AsyncClient(base_url=settings.stripe_api_base) as http:
        enrollment, bank = await _released_with_a_failed_payment(
            client, settings, provider, http, window, buyer
        )
        assert await bank.succeed(tell=False)
        payment = await Payment.get(subject_id=str(enrollment.id))
        intent = await provider.retrieve_intent(bank.intent_id)
        assert await settle_succeeded(provider, payment.id, intent, now=now + timedelta(hours=1))
        assert await bank.amount_refunded() == window.price_fen
    refunded = await Payment.get(id=payment.id)
    assert (refunded.status, refunded.settlement) == (PaymentStatus.REFUNDED, Settlement.REFUNDED)
    assert (await User.get(id=buyer.id)).member_until is None


async def test_reconciliation_repairs_a_payment_the_old_code_left_without_a_seat(
    provider: PaymentProvider,
) -> None:
    """The earlier code could record a payment as fulfilled while its enrollment had expired
    without a seat. Seeded as it left it: the window full, so the repair is a refund."""
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=1)
    buyer, rival = await make_user(), await make_user()
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=now)
    await membership.cancel_enrollment(
        provider=provider, enrollment_id=enrollment.id, user=buyer, now=now
    )
    await Enrollment.filter(id=enrollment.id).update(status=EnrollmentStatus.EXPIRED)
    await membership.enroll(window_id=window.id, user=rival, now=now)
    intent = await provider.create_intent(
        amount=enrollment.amount_fen,
        currency="cny",
        payment_method="pm_card_visa",
        metadata={},
        idempotency_key=f"test-old-{enrollment.id}",
    )
    await provider.confirm_intent(intent.id, idempotency_key=f"test-old-confirm-{enrollment.id}")
    payment = await Payment.create(
        user_id=buyer.id,
        purpose="membership",
        subject_id=str(enrollment.id),
        amount_fen=enrollment.amount_fen,
        status=PaymentStatus.SUCCEEDED,
        active_key=f"membership:{enrollment.id}",
        provider_intent_id=intent.id,
        fulfilled_at=now,
    )
    await Enrollment.filter(id=enrollment.id).update(payment_id=payment.id)

    counts = await payments.reconcile(provider, now=now)
    assert counts == {"repaired_refund_due": 1, "refunded": 1}
    refunded = await Payment.get(id=payment.id)
    assert (refunded.status, refunded.settlement) == (PaymentStatus.REFUNDED, Settlement.REFUNDED)
    assert await payments.reconcile(provider, now=now) == {}
