"""Webhooks: signed, applied once, in any order, before or after our own confirm returns."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from app import create_app
from payments import services
from payments.models import Payment, PaymentStatus, WebhookEvent
from payments.provider import PaymentProvider, ProviderDeclined
from settings import Settings
from tests.factories import bearer, make_user, sign_in, token_for
from tests.live import free_port
from tests.payments.conftest import (
    PURPOSE,
    Ledger,
    intent_json,
    provider_at,
    proxy_to,
    sign,
    signed_event,
    webhooks_to,
)


async def post_event(client: httpx.AsyncClient, payload: bytes, signature: str) -> httpx.Response:
    return await client.post(
        "/payments/webhook",
        content=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


async def payment_with_intent(
    provider: PaymentProvider, *, subject: str, payment_method: str = "pm_card_visa"
) -> tuple[Payment, str]:
    """A payment and its intent at the provider, not confirmed yet (the intent's id)."""
    buyer = await make_user()
    payment = await Payment.create(
        user_id=buyer.id,
        purpose=PURPOSE,
        subject_id=subject,
        amount_fen=9_900,
        active_key=f"{PURPOSE}:{subject}",
    )
    intent = await provider.create_intent(
        amount=9_900,
        currency="cny",
        payment_method=payment_method,
        metadata={"payment_id": str(payment.id), "purpose": PURPOSE, "subject_id": subject},
        idempotency_key=f"test-{payment.id}",
    )
    return payment, intent.id


async def open_payment_with_intent(
    provider: PaymentProvider, settings: Settings, *, subject: str = "order-1"
) -> tuple[Payment, dict[str, object]]:
    """A payment whose intent exists at the provider, confirmed there but not yet told to us."""
    payment, intent_id = await payment_with_intent(provider, subject=subject)
    await provider.confirm_intent(intent_id, idempotency_key=f"test-confirm-{payment.id}")
    return payment, await intent_json(settings, intent_id)


async def test_a_webhook_with_a_bad_or_missing_signature_is_rejected(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    payment, intent = await open_payment_with_intent(provider, settings)
    payload, _ = signed_event(settings.stripe_webhook_secret, "payment_intent.succeeded", intent)
    _, forged = signed_event("whsec_not_ours", "payment_intent.succeeded", intent)

    for headers in ({"Stripe-Signature": forged}, {}, {"Stripe-Signature": "t=1,v1=00"}):
        response = await client.post("/payments/webhook", content=payload, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_signature"
    assert ledger.succeeded == []
    assert await WebhookEvent.all().count() == 0
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.PENDING


async def test_the_same_webhook_delivered_three_times_fulfils_once(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    payment, intent = await open_payment_with_intent(provider, settings)
    payload, signature = signed_event(
        settings.stripe_webhook_secret, "payment_intent.succeeded", intent
    )
    responses = await asyncio.gather(*(post_event(client, payload, signature) for _ in range(3)))
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert sorted(response.json()["result"] for response in responses) == [
        "applied",
        "duplicate",
        "duplicate",
    ]
    assert ledger.succeeded == [payment.id]
    assert await WebhookEvent.all().count() == 1
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.SUCCEEDED


async def test_a_failure_event_the_provider_does_not_confirm_never_fails_a_paid_payment(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    """A failure event arriving after the intent succeeded (the buyer's first card was
    declined, the second paid, the events crossed): the provider's word, succeeded, is what
    is applied, and the success event after it fulfils nothing twice."""
    payment, intent = await open_payment_with_intent(provider, settings)
    failed = {**intent, "status": "requires_payment_method"}
    secret = settings.stripe_webhook_secret
    await post_event(client, *signed_event(secret, "payment_intent.payment_failed", failed))
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.SUCCEEDED
    await post_event(client, *signed_event(secret, "payment_intent.succeeded", intent))
    paid = await Payment.get(id=payment.id)
    assert paid.status == PaymentStatus.SUCCEEDED
    assert paid.active_key == f"{PURPOSE}:order-1"
    assert ledger.succeeded == [payment.id]
    assert ledger.failed == []


async def test_a_declined_payments_failure_event_is_applied_once_the_provider_confirms_it(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    payment, intent_id = await payment_with_intent(
        provider, subject="order-2", payment_method=await declining_card(settings)
    )
    with pytest.raises(ProviderDeclined):
        await provider.confirm_intent(intent_id, idempotency_key=f"test-confirm-{payment.id}")
    intent = await intent_json(settings, intent_id)
    assert intent["status"] == "requires_payment_method"
    secret = settings.stripe_webhook_secret
    answer = await post_event(
        client, *signed_event(secret, "payment_intent.payment_failed", intent)
    )
    assert answer.json()["result"] == "applied"
    failed = await Payment.get(id=payment.id)
    assert failed.status == PaymentStatus.FAILED
    assert ledger.failed == [payment.id]


async def test_a_canceled_event_is_applied_once_the_provider_confirms_it(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    """The hold ran out and the intent was canceled at the provider: its event fails the
    payment (the provider says canceled); the same event for a paid intent changes nothing."""
    payment, intent_id = await payment_with_intent(provider, subject="order-6")
    await provider.cancel_intent(intent_id)
    canceled = await intent_json(settings, intent_id)
    secret = settings.stripe_webhook_secret
    answer = await post_event(client, *signed_event(secret, "payment_intent.canceled", canceled))
    assert answer.json()["result"] == "applied"
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.FAILED
    assert ledger.failed == [payment.id]
    paid, intent = await open_payment_with_intent(provider, settings, subject="order-7")
    lie = {**intent, "status": "canceled"}
    await post_event(client, *signed_event(secret, "payment_intent.canceled", lie))
    assert (await Payment.get(id=paid.id)).status == PaymentStatus.SUCCEEDED  # the provider's word
    assert ledger.failed == [payment.id]


async def test_a_signed_but_false_success_changes_nothing(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    """Signed with our secret (a leaked key, a replay from a test account): the event says
    succeeded, the provider says the intent was never paid. Nothing moves."""
    payment, intent_id = await payment_with_intent(provider, subject="order-3")  # not paid
    lie = {**await intent_json(settings, intent_id), "status": "succeeded"}
    payload, signature = signed_event(
        settings.stripe_webhook_secret, "payment_intent.succeeded", lie
    )
    answer = await post_event(client, payload, signature)
    assert answer.status_code == 200
    assert answer.json()["result"] == "unconfirmed"
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.PENDING
    assert ledger.succeeded == []
    assert await WebhookEvent.all().count() == 0  # a true delivery later is not a duplicate


async def test_a_webhook_the_provider_cannot_confirm_now_is_503_and_retried(
    provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    payment, intent = await open_payment_with_intent(provider, settings)
    unreachable = create_app(
        replace(settings, stripe_api_base=f"http://127.0.0.1:{free_port()}"),
        manage_database=False,
        background_tasks=False,
    )
    payload, signature = signed_event(
        settings.stripe_webhook_secret, "payment_intent.succeeded", intent
    )
    try:
        transport = httpx.ASGITransport(app=unreachable)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            answer = await post_event(http, payload, signature)
    finally:
        await unreachable.state.counter.aclose()
        await unreachable.state.payments_provider.aclose()
    assert answer.status_code == 503  # the provider delivers it again later
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.PENDING
    assert await WebhookEvent.all().count() == 0
    assert ledger.succeeded == []


async def test_reconciliation_marks_a_success_the_provider_does_not_confirm_disputed(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    """A success recorded without the provider's own word (by code before read-backs, say):
    reconciliation asks again; an agreeing one is confirmed, one the provider does not confirm
    is marked disputed for an admin, and nothing is reversed."""
    truthful, intent = await open_payment_with_intent(provider, settings, subject="order-4")
    buyer = await make_user()
    never_paid = await provider.create_intent(
        amount=9_900,
        currency="cny",
        payment_method="pm_card_visa",
        metadata={},
        idempotency_key="test-never-paid",
    )
    false = await Payment.create(
        user_id=buyer.id,
        purpose=PURPOSE,
        subject_id="order-5",
        amount_fen=9_900,
        active_key=f"{PURPOSE}:order-5",
        status=PaymentStatus.SUCCEEDED,
        provider_intent_id=never_paid.id,
        settlement="fulfilled",
    )
    await Payment.filter(id=truthful.id).update(
        status=PaymentStatus.SUCCEEDED, provider_intent_id=str(intent["id"]), settlement="fulfilled"
    )
    counts = await services.reconcile(provider, now=datetime.now(UTC))
    assert counts.get("disputed") == 1 and counts.get("confirmed") == 1
    disputed = await Payment.get(id=false.id)
    assert disputed.status == PaymentStatus.DISPUTED
    assert disputed.settlement == "fulfilled" and disputed.refunded_fen == 0  # not reversed
    assert (await Payment.get(id=truthful.id)).confirmed_at is not None
    assert ledger.refunded == []
    again = await services.reconcile(provider, now=datetime.now(UTC))
    assert "disputed" not in again and "confirmed" not in again  # each is read back once
    admin = await make_user(admin=True)
    await sign_in(client, admin.email)
    page = await client.get("/admin/payments", headers={"Accept-Language": "en"})
    assert "1 payments recorded as paid are not confirmed by the provider" in page.text
    listed = await client.get(
        "/api/v1/admin/payments",
        params={"status": "disputed"},
        headers=bearer(await token_for(admin)),
    )
    assert [p["id"] for p in listed.json()["payments"]] == [false.id]


async def test_a_failure_after_a_success_changes_nothing(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    payment, intent = await open_payment_with_intent(provider, settings)
    secret = settings.stripe_webhook_secret
    await post_event(client, *signed_event(secret, "payment_intent.succeeded", intent))
    failed = {**intent, "status": "requires_payment_method"}
    await post_event(client, *signed_event(secret, "payment_intent.payment_failed", failed))
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.SUCCEEDED
    assert ledger.succeeded == [payment.id]
    assert ledger.failed == []


async def test_localstripes_webhook_after_our_confirm_returned_fulfils_once(
    app: Starlette, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    buyer = await make_user()
    async with webhooks_to(app, settings):
        result = await services.pay(
            provider=provider,
            user_id=buyer.id,
            purpose=PURPOSE,
            subject_id="order-1",
            amount_fen=9_900,
            payment_method="pm_card_visa",
            now=datetime.now(UTC),
        )
        assert result.outcome == services.Outcome.PAID
        # localstripe delivers payment_intent.succeeded about a second after the charge.
        for _ in range(100):
            if await WebhookEvent.filter(payment_id=result.payment.id).exists():
                break
            await asyncio.sleep(0.05)
    assert await WebhookEvent.filter(payment_id=result.payment.id).count() == 1
    assert ledger.succeeded == [result.payment.id]


async def test_localstripes_webhook_before_our_confirm_returns_fulfils_once(
    app: Starlette, settings: Settings, ledger: Ledger
) -> None:
    """The provider's answer to our confirm is held back 2.5 s; its webhook comes at ~1 s."""
    webhook_seen = asyncio.Event()

    async def slow_confirm(request: Request, forward):  # type: ignore[no-untyped-def]
        response: Response = await forward()
        if request.url.path.endswith("/confirm"):
            await asyncio.wait_for(webhook_seen.wait(), timeout=5)
        return response

    buyer = await make_user()
    async with webhooks_to(app, settings), proxy_to(settings.stripe_api_base, slow_confirm) as url:
        slow = provider_at(settings, url)

        async def watch_for_webhook() -> None:
            # The database has no change notifications: poll it.
            while not await WebhookEvent.all().exists():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            webhook_seen.set()

        watcher = asyncio.create_task(watch_for_webhook())
        result = await services.pay(
            provider=slow,
            user_id=buyer.id,
            purpose=PURPOSE,
            subject_id="order-1",
            amount_fen=9_900,
            payment_method="pm_card_visa",
            now=datetime.now(UTC),
        )
        await watcher
        await slow.aclose()
    assert result.outcome == services.Outcome.PAID
    assert webhook_seen.is_set()
    assert ledger.succeeded == [result.payment.id]
    assert await WebhookEvent.all().count() == 1


async def test_an_event_about_someone_elses_intent_is_acknowledged_and_ignored(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings, ledger: Ledger
) -> None:
    """Another database sharing the provider account can send metadata naming our ids."""
    payment, intent = await open_payment_with_intent(provider, settings)
    stranger = {
        **intent,
        "id": "pi_from_elsewhere",
        "metadata": {**intent["metadata"], "subject_id": "x"},
    }  # type: ignore[dict-item]
    payload, signature = signed_event(
        settings.stripe_webhook_secret, "payment_intent.succeeded", stranger
    )
    response = await post_event(client, payload, signature)
    assert response.status_code == 200
    assert response.json()["result"] == "unknown_payment"
    assert ledger.succeeded == []
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.PENDING


def _event(obj: object, **top: object) -> bytes:
    body: dict[str, object] = {
        "id": "evt_malformed",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": obj},
    }
    body.update(top)
    return json.dumps(body).encode()


GOOD_INTENT = {"id": "pi_x", "object": "payment_intent", "status": "succeeded", "amount": 100}
MALFORMED_EVENTS = {
    "not json": b"{not json",
    "a json list": b"[1, 2, 3]",
    "no data": json.dumps({"id": "evt_1", "type": "payment_intent.succeeded"}).encode(),
    "object is a string": _event("pi_123"),
    "object without an id": _event({"status": "succeeded", "amount": 100}),
    "id is a number": _event({**GOOD_INTENT, "id": 12345}),
    "amount is text": _event({**GOOD_INTENT, "amount": "lots"}),
    "amount is huge": _event({**GOOD_INTENT, "amount": 10**30}),
    "metadata is a list": _event({**GOOD_INTENT, "metadata": ["payment_id", "1"]}),
    "status is missing": _event({"id": "pi_x", "amount": 100}),
    "intent id is very long": _event({**GOOD_INTENT, "id": "pi_" + "x" * 5000}),
    "event id is very long": _event(GOOD_INTENT, id="evt_" + "x" * 5000),
    "event type is not text": _event(GOOD_INTENT, type=["payment_intent.succeeded"]),
    "deeply nested": b'{"id": "evt_deep", "type": "payment_intent.succeeded", "data": '
    + b'{"object": ' * 1000
    + b"{}"
    + b"}" * 1001,
}


@pytest.mark.parametrize("kind", list(MALFORMED_EVENTS))
async def test_a_signed_event_we_cannot_use_is_refused_with_400_never_500(
    client: httpx.AsyncClient, settings: Settings, kind: str
) -> None:
    payload = MALFORMED_EVENTS[kind]
    response = await post_event(client, payload, sign(settings.stripe_webhook_secret, payload))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_event"
    assert await WebhookEvent.all().count() == 0


async def test_a_signed_event_about_an_unknown_intent_is_acknowledged(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    payload = _event({**GOOD_INTENT, "id": "pi_nobody_knows", "metadata": {"payment_id": "77"}})
    response = await post_event(client, payload, sign(settings.stripe_webhook_secret, payload))
    assert response.status_code == 200
    assert response.json()["result"] == "unknown_payment"


async def declining_card(settings: Settings) -> str:
    """A PaymentMethod of the card number localstripe declines (4000 0000 0000 0341)."""
    async with httpx.AsyncClient() as http:
        made = await http.post(
            f"{settings.stripe_api_base}/v1/payment_methods",
            data={
                "type": "card",
                "card[number]": "4000000000000341",
                "card[exp_month]": "12",
                "card[exp_year]": "2040",
                "card[cvc]": "123",
            },
            headers={"Authorization": f"Bearer {settings.stripe_secret_key}"},
        )
        made.raise_for_status()
        return str(made.json()["id"])
