"""Browser journeys of Alipay paid directly (its open API), against the stand-in
(devserver/alipay.py) and `shuyuan serve`, at a phone's width, in Chinese and in English:

- WAP pay in a phone's browser: the checkout sends the shopper to Alipay's WAP cashier, they
  give up once (back on the waiting page, which sends them on again), then pay, and Alipay's
  return brings them to the receipt;
- a renewal paid from its reminder: a member whose membership ends in a week finds the
  reminder in the inbox, follows it to the one-tap renewal page, taps once, pays in Alipay's
  cashier and lands on the welcome page, a year added from the old end.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import expect

from accounts.models import User
from membership import grants
from membership.models import GrantSource
from payments.models import Payment, PaymentStatus, PayMethod
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order
from tests.conftest import AlipayStandIn
from tests.e2e.conftest import WatchedBrowser, phone_page, photograph, sign_in_page
from tests.factories import PASSWORD, address, make_user, make_window
from tests.live import running_server
from tests.payments.test_alipay import PHONE

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "alipay"
WORDS = {
    "zh-CN": {"alipay": "支付宝", "renew": "续费", "renewed": "续费成功"},
    "en-US": {"alipay": "Alipay", "renew": "Renew for", "renewed": "Renewed"},
}


@pytest.mark.parametrize("locale", list(WORDS))
async def test_wap_pay_in_a_phone_browser_ends_on_the_receipt(
    browser: WatchedBrowser, settings: Settings, alipay: AlipayStandIn, locale: str
) -> None:
    words = WORDS[locale]
    email = f"zhao-wap-{locale}@example.cn"
    buyer = await make_user(email=email, name="赵同学")
    product = await store.create_product(
        title="《认知红利》精装本", description="", category="精神粮食", price_fen=6_800, stock=2
    )
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    with running_server(alipay.settings(settings)) as base_url:
        page = await phone_page(browser, locale, PHONE)
        await sign_in_page(page, base_url, email, PASSWORD)
        await page.goto(f"{base_url}/store/orders/{order.id}/pay")
        await page.get_by_role("radio", name=words["alipay"]).check()
        await photograph(page, SCREENSHOTS, "wap-checkout", locale)
        await page.click("#pay-button")
        await expect(page).to_have_url(re.compile(rf"^{re.escape(alipay.gateway)}\?"))
        await expect(page.locator("body")).to_contain_text("68.00")
        await photograph(page, SCREENSHOTS, "wap-cashier", locale)
        # The shopper gives up once: Alipay's quit_url is our waiting page, which sends them
        # on to Alipay again; this time they pay, and Alipay's return leads to the receipt.
        await page.locator("#abandon").click()
        await expect(page).to_have_url(f"{base_url}/store/orders/{order.id}/paying")
        await photograph(page, SCREENSHOTS, "wap-waiting", locale)
        await page.get_by_role("link", name=re.compile(words["alipay"])).first.click()
        await expect(page).to_have_url(re.compile(rf"^{re.escape(alipay.gateway)}\?"))
        await page.locator("#pay").click()
        await expect(page).to_have_url(
            f"{base_url}/store/orders/{order.id}/receipt", timeout=20_000
        )
        await expect(page.locator(".paid-with")).to_contain_text(words["alipay"])
        await photograph(page, SCREENSHOTS, "wap-receipt", locale)
        payment = await Payment.get(id=(await Order.get(id=order.id)).payment_id)
        assert (payment.provider, payment.flow) == ("alipay", "wap")
        await page.context.close()


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_renewal_is_paid_from_its_reminder(
    browser: WatchedBrowser, settings: Settings, alipay: AlipayStandIn, locale: str
) -> None:
    words = WORDS[locale]
    now = datetime.now(UTC)
    email = f"qian-renew-{locale}@example.cn"
    member = await make_user(email=email, name="钱同学")
    await grants.extend_membership(
        user_id=member.id, days=6, source=GrantSource.ENROLLMENT, now=now
    )  # last year's membership, ending in six days
    ends = (await User.get(id=member.id)).member_until
    assert ends is not None
    await Payment.create(  # last year's membership, paid with Alipay
        user_id=member.id, purpose="membership", subject_id="999999", amount_fen=19_900,
        method=PayMethod.ALIPAY, flow="wap", provider="alipay",
        status=PaymentStatus.SUCCEEDED, succeeded_at=now - timedelta(days=359),
    )  # fmt: skip
    await make_window(now=now, seats=5, name="2027 年度会员")
    assert await grants.send_renewal_reminders(now=now) == 1

    with running_server(alipay.settings(settings)) as base_url:
        page = await phone_page(browser, locale, PHONE)
        await sign_in_page(page, base_url, email, PASSWORD)
        await page.goto(f"{base_url}/account/notifications")
        reminder = page.locator("ul.inbox li").first
        await expect(reminder).to_contain_text(ends.astimezone().strftime("%Y"))
        await photograph(page, SCREENSHOTS, "renewal-reminder", locale)
        await reminder.get_by_role("link").first.click()
        await expect(page).to_have_url(f"{base_url}/membership/renew")
        await expect(page.get_by_role("radio", name=words["alipay"])).to_be_checked()
        await photograph(page, SCREENSHOTS, "renewal-page", locale)
        await page.get_by_role("button", name=re.compile(words["renew"])).click()
        await expect(page).to_have_url(re.compile(rf"^{re.escape(alipay.gateway)}\?"))
        await expect(page.locator("body")).to_contain_text("199.00")
        await page.locator("#pay").click()
        await expect(page).to_have_url(f"{base_url}/membership/welcome", timeout=20_000)
        await expect(page.locator("h1")).to_contain_text(words["renewed"])
        await photograph(page, SCREENSHOTS, "renewal-welcome", locale)
        await page.context.close()
    renewed = await User.get(id=member.id)
    assert renewed.member_until == ends + timedelta(days=365)
