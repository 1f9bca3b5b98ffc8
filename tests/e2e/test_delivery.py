"""The order page after shipping, in a browser, in Chinese and in English: the carrier, the
tracking number linked to its tracking page, and 确认收货; the console's ship form with its
carriers. Screenshots in var/screenshots/delivery/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from payments.provider import PaymentProvider
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus
from tests.e2e.conftest import WatchedBrowser, photograph, sign_in_page
from tests.factories import PASSWORD, make_user, paid_order
from tests.live import running_server

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "delivery"
WORDS = {
    "zh-CN": {"ship": "发货", "carrier": "顺丰速运", "confirm": "确认收货", "delivered": "已送达",
              "invoice": "申请发票"},
    "en-US": {"ship": "Ship", "carrier": "SF Express", "confirm": "Confirm received",
              "delivered": "Delivered", "invoice": "Ask for an invoice"},
}  # fmt: skip


@pytest.mark.parametrize("locale", list(WORDS))
async def test_staff_ship_with_a_carrier_and_the_buyer_confirms_receipt(
    browser: WatchedBrowser, settings: Settings, provider: PaymentProvider, locale: str
) -> None:
    words = WORDS[locale]
    product = await store.create_product(
        title="《置身事内》", description="", category="图书", price_fen=6_500, stock=2
    )
    buyer = await make_user(email=f"buyer-ship-{locale}@example.cn", name="陈同学")
    admin = await make_user(email=f"admin-ship-{locale}@example.cn", role="admin")
    with running_server(settings) as base_url:
        order = await paid_order(provider, settings, buyer, product.id)
        staff = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(staff, base_url, admin.email or "", PASSWORD)
        await staff.goto(f"{base_url}/admin/orders?status=paid")
        row = staff.locator(
            "tr", has=staff.locator(f"form[action='/admin/orders/{order.id}/ship']")
        )
        await row.locator("select[name=carrier]").select_option("sf")
        await row.locator("input[name=tracking_number]").fill("SF1402738455092")
        await photograph(staff, SCREENSHOTS, "console-ship", locale)
        await row.get_by_role("button", name=words["ship"]).click()
        await expect(staff.locator("main")).to_contain_text("SF1402738455092")
        assert (await Order.get(id=order.id)).status == OrderStatus.SHIPPED
        await staff.context.close()

        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await sign_in_page(page, base_url, buyer.email or "", PASSWORD)
        await page.goto(f"{base_url}/store/orders/{order.id}")
        await expect(page.locator(".carrier")).to_have_text(words["carrier"])
        link = page.locator("a.tracking-link")
        await expect(link).to_have_attribute(
            "href",
            re.compile(r"^https://www\.kuaidi100\.com/chaxun\?com=shunfeng&nu=SF1402738455092$"),
        )
        await photograph(page, SCREENSHOTS, "order-shipped", locale)
        await page.get_by_role("button", name=words["confirm"]).click()
        await expect(page.locator("#order-status")).to_have_text(words["delivered"])
        # An invoice for a company, asked on the same page.
        await page.locator("details.invoice-ask summary").click()
        await page.locator("input[name=kind][value=company]").check()
        await page.fill("input[name=title]", "北京书院文化有限公司")
        await page.fill("input[name=tax_id]", "91110108MA01ABCD2X")
        await photograph(page, SCREENSHOTS, "invoice-form", locale)
        submit = page.locator("details.invoice-ask button[type=submit]")
        await expect(page.locator("details.invoice-ask summary")).to_have_text(words["invoice"])
        await submit.click()
        await expect(page.locator("[data-invoice=requested]")).to_contain_text(
            "北京书院文化有限公司"
        )
        await photograph(page, SCREENSHOTS, "order-received", locale)
        await page.context.close()
