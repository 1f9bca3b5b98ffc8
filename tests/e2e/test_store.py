"""Browser journey: a drop's countdown, buy when it opens, pay by card, the order and its notice."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import expect

from settings import Settings
from store import services as store
from tests.e2e.conftest import WatchedBrowser, fill_shipping, pay_by_card, sign_in_page
from tests.factories import PASSWORD, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


async def test_a_shopper_buys_a_drop_when_it_opens_and_pays_by_card(
    browser: WatchedBrowser, settings: Settings
) -> None:
    await make_user(email="sun@example.cn", name="孙同学")
    with running_server(settings) as base_url:
        page = await browser.new_page(locale="zh-CN")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await sign_in_page(page, base_url, "sun@example.cn", PASSWORD)
        # Created only now, so a slow start or sign-in cannot eat the countdown we watch.
        drop = await store.create_product(
            title="《生存处方》签名本",
            description="限量 3 本。",
            category="生存处方",
            price_fen=8_800,
            stock=3,
            per_customer_limit=1,
            sale_starts_at=datetime.now(UTC) + timedelta(seconds=6),
        )
        await page.goto(f"{base_url}/store/products/{drop.id}")
        countdown = page.locator(".countdown [data-countdown]")
        await expect(countdown).to_contain_text(":")
        first = await countdown.inner_text()
        await page.wait_for_timeout(1200)
        assert await countdown.inner_text() != first

        buy = page.get_by_role("button", name="立即购买")
        await expect(buy).to_be_visible(timeout=15_000)
        await expect(page.locator("#stock-left")).to_contain_text("3")
        await buy.click()
        await expect(page).to_have_url(re.compile(r".*/store/orders/[0-9]+/pay$"))

        await fill_shipping(page, name="孙同学", phone="12345")  # not a mainland mobile number
        await pay_by_card(page)
        await expect(page.locator("#payment-message")).to_contain_text("手机号")
        for width in (1280, 390):  # looked at by eye: var/screenshots/checkout-*.png
            await page.set_viewport_size({"width": width, "height": 900})
            await page.screenshot(path=SCREENSHOTS / f"checkout-zh-{width}.png", full_page=True)

        phone = page.locator("input[name='shipping.phone']")
        await expect(phone).to_have_attribute("aria-invalid", "true")  # the field is marked
        await phone.fill("13812345678")
        await page.click("#pay-button")
        await expect(page).to_have_url(re.compile(r".*/store/orders/[0-9]+$"), timeout=15_000)
        await expect(page.locator("#order-status")).to_have_text("已支付")

        await page.goto(f"{base_url}/account/notifications")
        await expect(page.locator("main")).to_contain_text(re.compile("订单 #[0-9]+ 已支付"))
        await page.close()
