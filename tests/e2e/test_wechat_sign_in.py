"""Browser journey: sign in with WeChat on a computer (the stand-in's QR page, whose button plays
the phone), create the account on the first sign-in page, and buy something with it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect

from accounts.models import User
from settings import Settings
from store import services as store
from tests.e2e.conftest import WatchedBrowser, fill_shipping, pay_by_card, photograph
from tests.live import running_server

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


async def test_a_new_person_signs_in_with_wechat_on_a_computer_and_buys(
    browser: WatchedBrowser, settings: Settings, wechat_url: str
) -> None:
    book = await store.create_product(
        title="《读书》合订本",
        description="一年十二期。",
        category="杂志",
        price_fen=12_000,
        stock=5,
        per_customer_limit=1,
        sale_starts_at=datetime.now(UTC),
    )
    with running_server(settings) as base_url:
        page = await browser.new_page(locale="zh-CN")
        await page.goto(f"{base_url}/account/login")
        await photograph(page, SCREENSHOTS, "sign-in-page", "zh_CN")  # the ways in it offers
        await page.get_by_role("link", name="微信登录").click()
        # WeChat's QR login page (the stand-in): scanning and confirming on the phone is a button.
        await expect(page).to_have_url(re.compile(rf"^{re.escape(wechat_url)}/connect/qrconnect"))
        await page.fill("input[name=person]", "周同学")
        await page.get_by_role("button", name=re.compile("扫码并确认登录")).click()

        await expect(page).to_have_url(f"{base_url}/account/wechat/finish")
        await expect(page.locator("input[name=display_name]")).to_have_value("周同学")
        await photograph(page, SCREENSHOTS, "wechat-finish", "zh_CN")
        await page.locator("a[lang=en]").click()  # the footer's language switch
        await expect(page.get_by_role("heading", name="First sign-in with WeChat")).to_be_visible()
        await photograph(page, SCREENSHOTS, "wechat-finish", "en")
        await page.locator("a[lang=zh-CN]").click()

        await page.fill("input[name=display_name]", "周读者")
        await expect(page.locator("input[name=use_avatar]")).to_be_checked()
        await page.locator("#wechat-create button[type=submit]").click()
        await expect(page).to_have_url(f"{base_url}/")
        user = await User.get(display_name="周读者")
        assert user.email is None and user.avatar_version == 1

        await page.goto(f"{base_url}/store/products/{book.id}")
        await page.get_by_role("button", name="立即购买").click()
        await expect(page).to_have_url(re.compile(r".*/store/orders/[0-9]+/pay$"))
        await fill_shipping(page, name="周读者", phone="13812345678")
        await pay_by_card(page, agree_abroad=True)
        await expect(page).to_have_url(re.compile(r".*/store/orders/[0-9]+$"), timeout=15_000)
        await expect(page.locator("#order-status")).to_have_text("已支付")
        await page.close()
