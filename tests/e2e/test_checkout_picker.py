"""Checkout's linked 省/市/区 picker in a browser, in Chinese and in English, at a phone's and
a computer's width: choosing a province lists its cities, a city its districts, and the
district's code is kept on the paid order; the shipping fee is its own line and in the total.
Screenshots in var/screenshots/checkout/."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect

from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus
from tests.e2e.conftest import WatchedBrowser, pay_by_card, photograph, sign_in_page
from tests.factories import PASSWORD, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "checkout"


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_the_picker_lists_cities_and_districts_and_keeps_the_code(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    email = f"picker-{locale}@example.cn"
    buyer = await make_user(email=email, name="孙同学")
    product = await store.create_product(
        title="《大国大城》", description="", category="图书", price_fen=5_800, stock=2,
        shipping_fee_fen=800,
    )  # fmt: skip
    order = await store.place_order(
        buyer=buyer, items=[store.Wanted(product.id, 1)], now=datetime.now(UTC),
        counter=MemoryCounter(),
    )  # fmt: skip
    with running_server(settings) as base_url:
        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await sign_in_page(page, base_url, email, PASSWORD)
        await page.goto(f"{base_url}/store/orders/{order.id}/pay")
        await page.fill("input[name='shipping.name']", "孙同学")
        await page.fill("input[name='shipping.phone']", "13812345678")
        await page.select_option("select[name='shipping.province']", "浙江省")
        city = page.locator("select[name='shipping.city']")
        await expect(city.locator("option[value='杭州市']")).to_be_attached()
        assert await page.locator("input[name='shipping.city']").is_hidden()
        await city.select_option("杭州市")
        district = page.locator("select[name='shipping.district']")
        await expect(district.locator("option[value='西湖区']")).to_be_attached()
        assert await district.locator("option[value='海淀区']").count() == 0  # Hangzhou's only
        await district.select_option("西湖区")
        await expect(page.locator("input[name='shipping.district_code']")).to_have_value("330106")
        await page.fill("input[name='shipping.address']", "文三路 90 号")
        # The fee is its own line, and the total includes it.
        await expect(page.locator(".shipping-fee")).to_have_text("¥8.00")
        await expect(page.locator("dl.facts")).to_contain_text("¥66.00")
        await photograph(page, SCREENSHOTS, "picker", locale)
        # Hong Kong is not in the dataset: its city and district are written by hand.
        await page.select_option("select[name='shipping.province']", "香港特别行政区")
        await expect(page.locator("input[name='shipping.city']")).to_be_visible()
        await expect(page.locator("input[name='shipping.district_code']")).to_have_value("")
        await page.select_option("select[name='shipping.province']", "浙江省")
        await page.select_option("select[name='shipping.city']", "杭州市")
        await page.select_option("select[name='shipping.district']", "西湖区")
        await pay_by_card(page)
        await expect(page).to_have_url(re.compile(r".*/store/orders/[0-9]+$"), timeout=20_000)
        paid = await Order.get(id=order.id)
        assert paid.status == OrderStatus.PAID
        shipped_to = (paid.ship_province, paid.ship_city, paid.ship_district)
        assert shipped_to == ("浙江省", "杭州市", "西湖区")
        assert paid.ship_district_code == "330106"
        assert (paid.shipping_fee_fen, paid.total_fen) == (800, 6_600)
        await expect(page.locator(".shipping-fee")).to_have_text("¥8.00")
        await page.context.close()
