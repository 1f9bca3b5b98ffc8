"""Browser journeys of WeChat Pay paid directly (API v3), against the stand-in
(devserver/wechatpay.py) and `shuyuan serve`, in Chinese and in English, at a phone's width:

- in a phone's own browser (a phone's user agent), H5: the checkout sends the shopper through
  our page to WeChat's H5 cashier (which checks the Referer our page lets through), they pay,
  and WeChat sends them back to the waiting page, which goes on to the receipt;
- inside WeChat's browser (WeChat's user agent), JSAPI: the checkout first learns the
  shopper's openid with a silent authorisation (the WeChat sign-in stand-in), the waiting page
  hands the signed parameters to the bridge (the stand-in's page playing WeixinJSBridge), the
  shopper closes it once, then pays, and the page goes on to the receipt.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect

from payments.models import Payment
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order
from tests.conftest import WechatPayStandIn
from tests.e2e.conftest import WatchedBrowser, phone_page, photograph, sign_in_page
from tests.factories import PASSWORD, address, make_user
from tests.live import running_server
from tests.payments.test_wechatpay import IN_WECHAT, PHONE

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "wechatpay"
WORDS = {
    "zh-CN": {"wechat": "微信支付", "closed": "你关闭了微信支付", "again": "微信支付"},
    "en-US": {"wechat": "WeChat Pay", "closed": "You closed WeChat Pay", "again": "WeChat Pay"},
}


async def _held_order(email: str) -> Order:
    buyer = await make_user(email=email, name="孙同学")
    product = await store.create_product(
        title="《认知红利》精装本", description="", category="精神粮食", price_fen=6_800, stock=2
    )
    return await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )


@pytest.mark.parametrize("locale", list(WORDS))
async def test_in_a_phone_browser_h5_pay_ends_on_the_receipt(
    browser: WatchedBrowser, settings: Settings, wechatpay: WechatPayStandIn, locale: str
) -> None:
    words = WORDS[locale]
    email = f"sun-h5-{locale}@example.cn"
    order = await _held_order(email)
    with running_server(wechatpay.settings(settings)) as base_url:
        page = await phone_page(browser, locale, PHONE)
        await sign_in_page(page, base_url, email, PASSWORD)
        await page.goto(f"{base_url}/store/orders/{order.id}/pay")
        await expect(page.get_by_role("radio", name=words["wechat"])).to_be_checked()
        await photograph(page, SCREENSHOTS, "h5-checkout", locale)
        await page.click("#pay-button")
        # Our page sent the shopper on to WeChat's cashier, which took our Referer (origin).
        await expect(page).to_have_url(re.compile(rf"^{re.escape(wechatpay.url)}/pay/h5\?"))
        await expect(page.locator("body")).to_contain_text("68.00")
        await expect(page.locator("body")).not_to_contain_text("商家参数格式有误")
        # The shopper leaves WeChat without paying: back on the waiting page, a second click
        # goes to WeChat again (with a fresh h5_url), and this time they pay.
        await page.get_by_role("button", name="放弃").click()
        await expect(page).to_have_url(f"{base_url}/store/orders/{order.id}/paying")
        await photograph(page, SCREENSHOTS, "h5-waiting", locale)
        await page.locator("#wechat-h5-pay").click()
        await expect(page).to_have_url(re.compile(rf"^{re.escape(wechatpay.url)}/pay/h5\?"))
        await page.get_by_role("button", name="支付").click()
        await expect(page).to_have_url(
            f"{base_url}/store/orders/{order.id}/receipt", timeout=20_000
        )
        await expect(page.locator(".paid-with")).to_contain_text(words["wechat"])
        await photograph(page, SCREENSHOTS, "h5-receipt", locale)
        payment = await Payment.get(id=(await Order.get(id=order.id)).payment_id)
        assert payment.flow == "h5"
        await page.context.close()


@pytest.mark.parametrize("locale", list(WORDS))
async def test_inside_wechat_jsapi_gets_the_parameters_and_the_bridge_completes_the_payment(
    browser: WatchedBrowser, settings: Settings, wechatpay: WechatPayStandIn, locale: str
) -> None:
    words = WORDS[locale]
    email = f"sun-jsapi-{locale}@example.cn"
    order = await _held_order(email)
    with running_server(wechatpay.settings(settings)) as base_url:
        page = await phone_page(browser, locale, IN_WECHAT)
        await sign_in_page(page, base_url, email, PASSWORD)
        await page.goto(f"{base_url}/store/orders/{order.id}/pay")
        # A silent authorisation learns the openid for paying: the WeChat stand-in asks who
        # holds this phone once, then WeChat sends the shopper straight back.
        person = page.locator("input[name=person]")
        await expect(person).to_be_visible()
        await person.fill("孙同学")
        await page.get_by_role("button", name=re.compile("就是我")).click()
        await expect(page).to_have_url(f"{base_url}/store/orders/{order.id}/pay")
        await expect(page.get_by_role("radio", name=words["wechat"])).to_be_checked()
        await expect(page.locator("input[type=radio][value=alipay]")).to_have_count(0)
        await photograph(page, SCREENSHOTS, "jsapi-checkout", locale)
        await page.click("#pay-button")

        # The waiting page hands the signed parameters to the bridge (WeixinJSBridge's
        # stand-in here): the shopper closes it once and comes back to the waiting page.
        await expect(page).to_have_url(re.compile(rf"^{re.escape(wechatpay.url)}/pay/jsapi\?"))
        await expect(page.locator("body")).to_contain_text("68.00")
        await page.get_by_role("button", name="放弃").click()
        await expect(page).to_have_url(re.compile(rf"/store/orders/{order.id}/paying\?err_msg="))
        await expect(page.locator("#wechat-jsapi-said")).to_contain_text(words["closed"])
        await photograph(page, SCREENSHOTS, "jsapi-waiting", locale)

        await page.locator("#wechat-jsapi-pay").click()
        await expect(page).to_have_url(re.compile(rf"^{re.escape(wechatpay.url)}/pay/jsapi\?"))
        await page.get_by_role("button", name="支付").click()
        await expect(page).to_have_url(
            f"{base_url}/store/orders/{order.id}/receipt", timeout=20_000
        )
        await expect(page.locator(".paid-with")).to_contain_text(words["wechat"])
        await photograph(page, SCREENSHOTS, "jsapi-receipt", locale)
        payment = await Payment.get(id=(await Order.get(id=order.id)).payment_id)
        assert payment.flow == "jsapi"
        await page.context.close()
