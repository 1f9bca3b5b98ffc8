"""Browser journeys of WeChat Pay and Alipay, in Chinese and in English, against the provider
process: the shopper picks WeChat Pay and sees the QR code; a second browser (the phone that
scans it) opens the code's URL and pays; the first page moves on to the receipt by itself.
With Alipay the shopper is redirected to Alipay's page, pays, and comes back to the receipt."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from payments.models import Payment
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order
from tests.e2e.conftest import WatchedBrowser, sign_in_page
from tests.e2e.test_csp import FAILING, _axe_source
from tests.factories import PASSWORD, address, make_user
from tests.live import running_server
from tests.payments.conftest import webhook_endpoint

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "wallets"
WORDS = {
    "zh-CN": {"wechat": "微信支付", "alipay": "支付宝", "scan": "扫一扫", "pay": "确认支付"},
    "en-US": {"wechat": "WeChat Pay", "alipay": "Alipay", "scan": "Scan", "pay": "Pay"},
}


@asynccontextmanager
async def serving_with_webhooks(settings: Settings) -> AsyncIterator[str]:
    """`shuyuan serve`, with the provider's webhooks reaching it (as `make run` arranges)."""
    with running_server(settings) as base_url:
        async with webhook_endpoint(settings, base_url):
            yield base_url


async def _held_order(email: str) -> Order:
    buyer = await make_user(email=email, name="钱同学")
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


async def _axe(page: Page, axe: str) -> list[str]:
    await page.evaluate(axe)
    result = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{page.url} {v['impact']}: {v['id']} {v['nodes'][0]['target']}"
        for v in result["violations"]
        if v["impact"] in FAILING
    ]


async def _shots(page: Page, name: str, locale: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):  # looked at by eye: var/screenshots/wallets/
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=SCREENSHOTS / f"{name}-{locale}-{width}.png", full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_shopper_pays_with_wechat_pay_scanned_by_a_second_device(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    axe = _axe_source()
    words = WORDS[locale]
    order = await _held_order("qian@example.cn")
    async with serving_with_webhooks(settings) as base_url:
        page = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(page, base_url, "qian@example.cn", PASSWORD)
        await page.goto(f"{base_url}/store/orders/{order.id}/pay")
        wechat = page.get_by_role("radio", name=words["wechat"])
        await expect(wechat).to_be_checked()  # the first method offered
        await expect(page.locator("#card-field")).to_be_hidden()
        await _shots(page, "checkout", locale)
        assert await _axe(page, axe) == []
        await page.click("#pay-button")

        await expect(page).to_have_url(f"{base_url}/store/orders/{order.id}/paying")
        code = page.locator("figure.qr img")
        await expect(code).to_be_visible()
        assert await code.evaluate("img => img.naturalWidth") > 100  # the SVG drew
        await expect(page.locator(".paying .amount")).to_contain_text("68.00")
        await expect(page.locator("main")).to_contain_text(words["scan"])
        await _shots(page, "wechat-qr", locale)
        assert await _axe(page, axe) == []
        await page.evaluate("() => { window.stayedHere = true; }")

        # The phone that scanned the code: it opens the code's URL and pays.
        payment = await Payment.get(id=(await Order.get(id=order.id)).payment_id)
        assert payment.action_url is not None
        phone = await browser.new_page(locale=locale)
        await phone.goto(payment.action_url)
        await phone.get_by_role("button", name=re.compile(words["pay"])).click()
        await expect(phone.locator("body")).to_contain_text("Paid")
        await phone.close()

        # The first page learns it by itself (no reload by the shopper) and moves on.
        await expect(page).to_have_url(
            f"{base_url}/store/orders/{order.id}/receipt", timeout=15_000
        )
        await expect(page.locator(".paid-with")).to_contain_text(words["wechat"])
        await _shots(page, "wechat-receipt", locale)
        await page.close()


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_shopper_pays_with_alipay_and_comes_back_to_the_receipt(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    words = WORDS[locale]
    order = await _held_order("zhao@example.cn")
    async with serving_with_webhooks(settings) as base_url:
        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await sign_in_page(page, base_url, "zhao@example.cn", PASSWORD)
        await page.goto(f"{base_url}/store/orders/{order.id}/pay")
        await page.get_by_role("radio", name=words["alipay"]).check()
        await page.click("#pay-button")
        # Alipay's page (the provider's imitation), then back to our return page and on.
        await expect(page).to_have_url(re.compile(r".*/_wallet/alipay/pi_\w+$"))
        await expect(page.locator("body")).to_contain_text("68.00")
        await page.get_by_role("button", name=re.compile(words["pay"])).click()
        await expect(page).to_have_url(
            f"{base_url}/store/orders/{order.id}/receipt", timeout=15_000
        )
        await expect(page.locator(".paid-with")).to_contain_text(words["alipay"])
        await _shots(page, "alipay-receipt", locale)

        # The order page says how it was paid too.
        await page.goto(f"{base_url}/store/orders/{order.id}")
        await expect(page.locator(".paid-with")).to_contain_text(words["alipay"])
        await page.close()
