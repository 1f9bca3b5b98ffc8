"""Paying for a thing against a real localstripe: success, decline, 3-D Secure, refunds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from errors import ValidationError
from payments import services
from payments.errors import AlreadyPaid, NotRefundable, RefundTooLarge
from payments.models import Payment, PaymentStatus, Refund
from payments.provider import PaymentProvider
from settings import Settings
from tests.factories import bearer, card_payment_method, make_user, token_for
from tests.payments.conftest import (
    PURPOSE,
    Ledger,
    intent_json,
)

CARD_3DS = "4000002500003155"
CARD_DECLINED = "4000000000000341"


async def pay(provider: PaymentProvider, user_id: int, method: str, **overrides: object):  # type: ignore[no-untyped-def]
    arguments: dict[str, object] = {
        "provider": provider,
        "user_id": user_id,
        "purpose": PURPOSE,
        "subject_id": "order-1",
        "amount_fen": 19_900,
        "payment_method": method,
        "now": datetime.now(UTC),
    }
    arguments.update(overrides)
    return await services.pay(**arguments)  # type: ignore[arg-type]


async def test_a_good_card_pays_and_fulfils_once(
    provider: PaymentProvider, ledger: Ledger, settings: Settings
) -> None:
    buyer = await make_user()
    result = await pay(provider, buyer.id, "pm_card_visa")
    assert result.outcome == services.Outcome.PAID
    payment = await Payment.get(id=result.payment.id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount_fen == 19_900
    assert payment.currency == "cny"
    assert payment.fulfilled_at is not None
    assert ledger.succeeded == [payment.id]
    assert payment.provider_intent_id is not None
    at_provider = await intent_json(settings, payment.provider_intent_id)
    assert at_provider["status"] == "succeeded"
    assert at_provider["amount"] == 19_900
    assert at_provider["metadata"]["payment_id"] == str(payment.id)


async def test_paying_again_for_a_paid_thing_is_refused(
    provider: PaymentProvider, ledger: Ledger
) -> None:
    buyer = await make_user()
    await pay(provider, buyer.id, "pm_card_visa")
    with pytest.raises(AlreadyPaid):
        await pay(provider, buyer.id, "pm_card_visa")
    assert await Payment.filter(purpose=PURPOSE).count() == 1
    assert len(ledger.succeeded) == 1


@pytest.mark.parametrize("card", ["pm_card_chargeCustomerFail", CARD_DECLINED])
async def test_a_declined_card_fails_with_the_providers_reason_and_frees_the_thing(
    provider: PaymentProvider, ledger: Ledger, settings: Settings, card: str
) -> None:
    buyer = await make_user()
    method = card if card.startswith("pm_") else await card_payment_method(settings, card)
    result = await pay(provider, buyer.id, method)
    assert result.outcome == services.Outcome.FAILED
    assert result.reason == "Your card was declined."
    failed = await Payment.get(id=result.payment.id)
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_code == "card_declined"
    assert failed.active_key is None
    assert ledger.failed == [failed.id]
    assert ledger.succeeded == []

    retry = await pay(provider, buyer.id, "pm_card_visa")  # another card, same thing
    assert retry.outcome == services.Outcome.PAID
    assert ledger.succeeded == [retry.payment.id]


async def test_a_card_needing_3d_secure_waits_for_the_browser_then_pays(
    provider: PaymentProvider, ledger: Ledger, settings: Settings, client: httpx.AsyncClient
) -> None:
    buyer = await make_user()
    result = await pay(provider, buyer.id, await card_payment_method(settings, CARD_3DS))
    assert result.outcome == services.Outcome.REQUIRES_ACTION
    assert result.client_secret
    payment = await Payment.get(id=result.payment.id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert ledger.succeeded == []

    # The browser's 3-D Secure step, as localstripe's Stripe.js stand-in performs it.
    async with httpx.AsyncClient() as browser:
        done = await browser.post(
            f"{settings.stripe_api_base}/v1/payment_intents/{payment.provider_intent_id}"
            "/_authenticate",
            data={
                "client_secret": result.client_secret,
                "success": "true",
                "key": settings.stripe_publishable_key,
            },
        )
        assert done.status_code == 200

    # Back on our page, the browser asks how the payment went.
    response = await client.get(
        f"/api/v1/payments/{payment.id}", headers=bearer(await token_for(buyer))
    )
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert response.json()["client_secret"] is None
    assert ledger.succeeded == [payment.id]


async def test_an_abandoned_3d_secure_payment_expires_and_frees_the_thing(
    provider: PaymentProvider, ledger: Ledger, settings: Settings
) -> None:
    buyer = await make_user()
    result = await pay(provider, buyer.id, await card_payment_method(settings, CARD_3DS))
    assert result.outcome == services.Outcome.REQUIRES_ACTION

    soon = await services.reconcile(provider, now=datetime.now(UTC) + timedelta(minutes=5))
    assert soon == {"requires_action": 1}  # still within its time
    later = await services.reconcile(provider, now=datetime.now(UTC) + timedelta(minutes=16))
    assert later == {"failed": 1}
    payment = await Payment.get(id=result.payment.id)
    assert payment.status == PaymentStatus.FAILED
    assert payment.active_key is None
    assert ledger.failed == [payment.id]
    assert payment.provider_intent_id is not None
    assert (await intent_json(settings, payment.provider_intent_id))["status"] == "canceled"


async def test_refunds_partial_then_the_rest_never_more_than_paid(
    provider: PaymentProvider, ledger: Ledger, settings: Settings
) -> None:
    buyer = await make_user()
    paid = (await pay(provider, buyer.id, "pm_card_visa")).payment
    now = datetime.now(UTC)

    part = await services.refund(provider=provider, payment_id=paid.id, amount_fen=4_900, now=now)
    assert part.status == PaymentStatus.SUCCEEDED
    assert part.refunded_fen == 4_900
    with pytest.raises(RefundTooLarge):
        await services.refund(provider=provider, payment_id=paid.id, amount_fen=15_001, now=now)
    with pytest.raises(ValidationError):
        await services.refund(provider=provider, payment_id=paid.id, amount_fen=0, now=now)

    rest = await services.refund(provider=provider, payment_id=paid.id, now=now)
    assert rest.status == PaymentStatus.REFUNDED
    assert rest.refunded_fen == 19_900
    assert ledger.refunded == [(paid.id, 4_900), (paid.id, 15_000)]
    # Each refund is a row of its own, on the day it was made (the numbers' refunds).
    assert await Refund.filter(payment_id=paid.id).order_by("id").values_list(
        "amount_fen", "automatic", "created_at"
    ) == [(4_900, False, now), (15_000, False, now)]
    assert paid.succeeded_at is not None
    with pytest.raises(NotRefundable):
        await services.refund(provider=provider, payment_id=paid.id, now=now)
    # A refunded thing is still paid for: it cannot be bought twice by accident.
    with pytest.raises(AlreadyPaid):
        await pay(provider, buyer.id, "pm_card_visa")


async def test_admins_refund_through_the_api_and_others_cannot(
    provider: PaymentProvider, ledger: Ledger, client: httpx.AsyncClient
) -> None:
    buyer = await make_user()
    admin = await make_user(admin=True)
    paid = (await pay(provider, buyer.id, "pm_card_visa")).payment
    url = f"/api/v1/payments/{paid.id}/refund"

    refused = await client.post(url, json={}, headers=bearer(await token_for(buyer)))
    assert refused.status_code == 403
    too_much = await client.post(
        url, json={"amount_fen": 20_000}, headers=bearer(await token_for(admin))
    )
    assert too_much.status_code == 422
    assert too_much.json()["error"]["code"] == "refund_too_large"
    bad = await client.post(
        url, json={"amount_fen": "lots"}, headers=bearer(await token_for(admin))
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "amount_fen"

    done = await client.post(url, json={}, headers=bearer(await token_for(admin)))
    assert done.status_code == 200
    assert done.json()["status"] == "refunded"
    assert done.json()["refunded_fen"] == 19_900


async def test_a_buyer_sees_only_their_own_payments(
    provider: PaymentProvider, ledger: Ledger, client: httpx.AsyncClient
) -> None:
    buyer = await make_user()
    other = await make_user()
    paid = (await pay(provider, buyer.id, "pm_card_visa")).payment
    mine = await client.get(f"/api/v1/payments/{paid.id}", headers=bearer(await token_for(buyer)))
    assert mine.status_code == 200
    assert mine.json()["amount_fen"] == 19_900
    theirs = await client.get(f"/api/v1/payments/{paid.id}", headers=bearer(await token_for(other)))
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "payment_not_found"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount_fen": 0}, "amount_fen"),
        ({"amount_fen": -5}, "amount_fen"),
        ({"amount_fen": 1.5}, "amount_fen"),
        ({"payment_method": "card_4242"}, "payment_method"),
        ({"payment_method": "pm_no_such_method"}, "payment_method"),
    ],
)
async def test_bad_payment_input_is_refused_naming_the_field(
    provider: PaymentProvider, ledger: Ledger, overrides: dict[str, object], field: str
) -> None:
    buyer = await make_user()
    with pytest.raises(ValidationError) as caught:
        await pay(
            provider, buyer.id, str(overrides.pop("payment_method", "pm_card_visa")), **overrides
        )
    assert caught.value.field == field
    assert await Payment.filter(status__in=["pending", "succeeded"]).count() == 0
