"""A provider that is down, slow or loses its answer; many buyers racing for one thing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from errors import DomainError
from payments import services
from payments.errors import AlreadyPaid, PaymentInProgress, PaymentUnavailable
from payments.models import Payment, PaymentStatus
from payments.provider import PaymentProvider
from settings import Settings
from tests.factories import make_user
from tests.live import free_port
from tests.payments.conftest import PURPOSE, Ledger, intents_at_provider, provider_at, proxy_to


async def pay_with(provider: PaymentProvider, user_id: int, *, when: datetime | None = None):  # type: ignore[no-untyped-def]
    return await services.pay(
        provider=provider,
        user_id=user_id,
        purpose=PURPOSE,
        subject_id="order-1",
        amount_fen=9_900,
        payment_method="pm_card_visa",
        now=when or datetime.now(UTC),
    )


async def test_a_provider_that_is_down_gives_a_clear_error_and_charges_nothing(
    provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    buyer = await make_user()
    down = provider_at(settings, f"http://127.0.0.1:{free_port()}")  # nobody listens there
    try:
        with pytest.raises(PaymentUnavailable) as caught:
            await pay_with(down, buyer.id)
    finally:
        await down.aclose()
    assert caught.value.status == 503
    assert caught.value.code == "payment_unavailable"
    failed = await Payment.get(purpose=PURPOSE)
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_code == "provider_unavailable"
    assert failed.active_key is None
    assert await intents_at_provider(settings) == []

    retry = await pay_with(provider, buyer.id)  # the provider is back
    assert retry.outcome == services.Outcome.PAID
    assert ledger.succeeded == [retry.payment.id]
    charged = [i for i in await intents_at_provider(settings) if i["status"] == "succeeded"]
    assert len(charged) == 1


async def test_a_provider_that_hangs_on_confirm_times_out_and_charges_nothing(
    provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    released = asyncio.Event()

    async def hang_on_confirm(request: Request, forward):  # type: ignore[no-untyped-def]
        if request.url.path.endswith("/confirm"):
            await released.wait()  # never forwarded: the charge is never made
            return JSONResponse({"error": {"message": "too late"}}, status_code=504)
        return await forward()

    buyer = await make_user()
    async with proxy_to(settings.stripe_api_base, hang_on_confirm) as url:
        slow = provider_at(settings, url)
        try:
            with pytest.raises(PaymentUnavailable):
                await pay_with(slow, buyer.id)
        finally:
            released.set()
            await slow.aclose()
    payment = await Payment.get(purpose=PURPOSE)
    assert payment.status == PaymentStatus.FAILED  # its intent was canceled at once
    assert [i["status"] for i in await intents_at_provider(settings)] == ["canceled"]
    assert ledger.succeeded == []

    retry = await pay_with(provider, buyer.id)
    assert retry.outcome == services.Outcome.PAID
    assert ledger.succeeded == [retry.payment.id]


async def test_reconciliation_settles_a_payment_whose_answer_and_webhook_were_lost(
    provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    """The charge is made, then the provider goes dark for us and no webhook ever comes."""
    dark = False

    async def lose_everything_after_confirm(request: Request, forward):  # type: ignore[no-untyped-def]
        nonlocal dark
        if dark:
            return JSONResponse({"error": {"message": "upstream down"}}, status_code=503)
        response: Response = await forward()
        if request.url.path.endswith("/confirm"):
            dark = True
            return JSONResponse({"error": {"message": "upstream down"}}, status_code=503)
        return response

    buyer = await make_user()
    started = datetime.now(UTC)
    async with proxy_to(settings.stripe_api_base, lose_everything_after_confirm) as url:
        flaky = provider_at(settings, url)
        try:
            with pytest.raises(PaymentUnavailable):
                await pay_with(flaky, buyer.id, when=started)
        finally:
            await flaky.aclose()
    payment = await Payment.get(purpose=PURPOSE)
    assert payment.status == PaymentStatus.PENDING  # we cannot know yet: never guessed
    assert ledger.succeeded == []
    settled = await services.reconcile(provider, now=started + timedelta(minutes=1))
    assert settled == {"paid": 1}
    assert ledger.succeeded == [payment.id]
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.SUCCEEDED
    assert await services.reconcile(provider, now=started + timedelta(minutes=2)) == {}
    charged = [i for i in await intents_at_provider(settings) if i["status"] == "succeeded"]
    assert len(charged) == 1


async def test_a_retry_after_a_lost_answer_asks_the_provider_and_never_charges_twice(
    provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    """The confirm's answer is lost and the provider goes dark; the buyer's retry comes once
    the first request has given up, and finds the first charge instead of making a second."""
    dark = False

    async def lose_the_confirm_answer(request: Request, forward):  # type: ignore[no-untyped-def]
        nonlocal dark
        if dark:
            return JSONResponse({"error": {"message": "upstream down"}}, status_code=503)
        response: Response = await forward()
        if request.url.path.endswith("/confirm"):
            dark = True
            return JSONResponse({"error": {"message": "upstream down"}}, status_code=503)
        return response

    buyer = await make_user()
    started = datetime.now(UTC)
    async with proxy_to(settings.stripe_api_base, lose_the_confirm_answer) as url:
        flaky = provider_at(settings, url)
        try:
            with pytest.raises(PaymentUnavailable):
                await pay_with(flaky, buyer.id, when=started)
        finally:
            await flaky.aclose()
    assert (await Payment.get(purpose=PURPOSE)).in_flight_until is None  # the request ended
    with pytest.raises(AlreadyPaid):
        await pay_with(provider, buyer.id, when=started + timedelta(seconds=5))
    assert len(ledger.succeeded) == 1
    charged = [i for i in await intents_at_provider(settings) if i["status"] == "succeeded"]
    assert len(charged) == 1


async def test_a_second_request_while_the_first_waits_for_the_provider_is_told_to_wait(
    provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    release = asyncio.Event()
    confirming = asyncio.Event()

    async def slow_confirm(request: Request, forward):  # type: ignore[no-untyped-def]
        if request.url.path.endswith("/confirm"):
            confirming.set()
            await release.wait()
        return await forward()

    buyer = await make_user()
    async with proxy_to(settings.stripe_api_base, slow_confirm) as url:
        slow = provider_at(settings, url)
        try:
            first = asyncio.create_task(pay_with(slow, buyer.id))
            await confirming.wait()
            with pytest.raises(PaymentInProgress):  # a double click must not charge again
                await pay_with(provider, buyer.id)
            release.set()
            assert (await first).outcome == services.Outcome.PAID
        finally:
            release.set()
            await slow.aclose()
    assert len(ledger.succeeded) == 1


async def test_twenty_concurrent_payments_for_one_thing_charge_once(
    provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    buyers = [await make_user() for _ in range(4)]
    outcomes = await asyncio.gather(
        *(pay_with(provider, buyers[n % 4].id) for n in range(20)), return_exceptions=True
    )
    paid = [o for o in outcomes if isinstance(o, services.PaymentResult)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    unexpected = [o for o in outcomes if o not in paid and o not in refused]
    assert unexpected == []
    assert [result.outcome for result in paid] == [services.Outcome.PAID]
    assert all(isinstance(error, PaymentInProgress | AlreadyPaid) for error in refused)
    assert len(refused) == 19
    assert await Payment.filter(purpose=PURPOSE).count() == 1
    assert ledger.succeeded == [paid[0].payment.id]
    charged = [i for i in await intents_at_provider(settings) if i["status"] == "succeeded"]
    assert len(charged) == 1
