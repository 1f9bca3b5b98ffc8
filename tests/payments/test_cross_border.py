"""The cross-border consent (PIPL art. 39): a card paid through Stripe, abroad, is refused
until the person agreed to the current cross-border notice (once, and again for a new
version), whether or not the terms are published; the checkout shows it beside the card and
records its box; WeChat Pay and Alipay paid directly, in mainland China, never ask."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from accounts import consents, legal_documents
from accounts.errors import ConsentRequired
from accounts.models import Consent, User
from app import create_app
from composition import wire
from payments import services as payments
from payments.models import Payment
from payments.provider import PaymentProvider
from settings import Settings
from tests.accounts.test_consents import NOW, agree_current, publish_both
from tests.conftest import AlipayStandIn, WechatPayStandIn
from tests.factories import SHIPPING, bearer, csrf_from, make_user, sign_in, token_for
from tests.payments.conftest import PURPOSE, Ledger
from tests.payments.test_wallets import held_order


async def agreed_person(**kwargs: object) -> User:
    """A person who agreed to the terms and privacy policy, not yet to the cross-border
    notice."""
    return await make_user(cross_border=False, **kwargs)  # type: ignore[arg-type]


async def test_a_card_payment_asks_for_the_cross_border_consent_once(
    provider: PaymentProvider, ledger: Ledger
) -> None:
    buyer = await agreed_person()

    async def pay(subject: str) -> payments.PaymentResult:
        return await payments.pay(
            provider=provider,
            user_id=buyer.id,
            purpose=PURPOSE,
            subject_id=subject,
            amount_fen=9_900,
            payment_method="pm_card_visa",
            now=datetime.now(UTC),
        )

    with pytest.raises(ConsentRequired) as refused:
        await pay("first")  # no terms published yet: the notice is asked all the same
    assert refused.value.documents == ("cross_border",)
    await publish_both()
    await agree_current(buyer)
    with pytest.raises(ConsentRequired) as refused:
        await pay("first")
    assert refused.value.documents == ("cross_border",)
    assert not await Payment.filter(subject_id="first").exists()
    await consents.agree(buyer, "cross_border", 1, source="test", now=NOW)
    assert (await pay("first")).outcome == payments.Outcome.PAID
    assert (await pay("second")).outcome == payments.Outcome.PAID  # once, not every time
    await legal_documents.publish("cross_border", "跨境提供说明", "新的接收方", by=None, now=NOW)
    with pytest.raises(ConsentRequired):
        await pay("third")  # a new version of the notice is asked again


async def test_the_checkout_records_the_cross_border_box_then_pays_by_card(
    client: httpx.AsyncClient,
) -> None:
    await publish_both()
    buyer = await agreed_person(email="sun@example.cn")
    order = await held_order(buyer)
    await sign_in(client, "sun@example.cn")
    page = await client.get(f"/store/orders/{order.id}/pay")
    assert 'id="cross-border"' in page.text and "Stripe" in page.text
    form = {
        "csrf_token": csrf_from(page.text),
        **{f"shipping.{key}": value for key, value in SHIPPING.items()},
        "payment_method": "pm_card_visa",
    }
    json_please = {"Accept": "application/json"}
    refused = await client.post(f"/store/orders/{order.id}/pay", data=form, headers=json_please)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "consent_required"
    paid = await client.post(
        f"/store/orders/{order.id}/pay", data={**form, "cross_border": "true"}, headers=json_please
    )
    assert paid.json()["status"] == "paid", paid.text
    assert await consents.cross_border_agreed(buyer.id)
    again = await client.get(f"/store/orders/{(await held_order(buyer)).id}/pay")
    assert 'id="cross-border"' not in again.text  # asked once


async def test_a_mainland_wallet_never_asks_for_the_cross_border_consent(
    settings: Settings, wechatpay: WechatPayStandIn, alipay: AlipayStandIn
) -> None:
    configured = alipay.settings(wechatpay.settings(settings))
    own = wire(configured)
    app = create_app(configured, manage_database=False, background_tasks=False, wired=own)
    try:
        with own.wiring().bound():
            await publish_both()
            buyer = await agreed_person()
            token = await token_for(buyer)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                for choice in (
                    {"method": "wechat_pay"},
                    {"method": "alipay", "return_url": "http://testserver/store"},
                ):
                    order = await held_order(buyer)
                    answer = await http.post(
                        f"/api/v1/orders/{order.id}/payment", json=choice, headers=bearer(token)
                    )
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["status"] == "requires_action"
                card = await http.post(
                    f"/api/v1/orders/{(await held_order(buyer)).id}/payment",
                    json={"payment_method": "pm_card_visa"},
                    headers=bearer(token),
                )
                assert card.status_code == 403
                assert card.json()["error"]["code"] == "consent_required"
            assert not await Consent.filter(purpose="cross_border").exists()
    finally:
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()
        app.state.pictures.close()


async def test_the_checkout_asks_the_cross_border_consent_with_nothing_published(
    client: httpx.AsyncClient,
) -> None:
    buyer = await agreed_person(email="li@example.cn")
    order = await held_order(buyer)
    await sign_in(client, "li@example.cn")
    page = await client.get(f"/store/orders/{order.id}/pay")
    assert 'id="cross-border"' in page.text and "Stripe" in page.text
