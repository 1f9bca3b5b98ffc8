"""Browser journey: the console's numbers. The dashboard draws its charts under the
Content-Security-Policy, and a selling drop's page follows an order live, over server-sent
events, with no reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from ratelimit import MemoryCounter
from settings import Settings
from stats import rollups
from store import services as store
from tests.e2e.conftest import WatchedBrowser, sign_in_page
from tests.factories import PASSWORD, address, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e


async def test_the_dashboard_draws_its_charts_and_a_sale_page_follows_an_order_live(
    browser: WatchedBrowser, settings: Settings
) -> None:
    now = datetime.now(UTC)
    owner = await make_user(role="owner")
    buyer = await make_user()
    drop = await store.create_product(
        title="开售中的藏书票",
        description="",
        category="文具",
        price_fen=1_990,
        stock=40,
        per_customer_limit=2,
        sale_starts_at=now - timedelta(minutes=5),
        actor=owner,
    )
    await rollups.refresh(now=now)
    with running_server(settings) as base_url:
        page = await browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 900})
        await sign_in_page(page, base_url, owner.email, PASSWORD)

        await page.goto(f"{base_url}/admin/dashboard")
        charts = page.locator("figure.chart-box")
        await expect(charts).to_have_count(6)
        for n in range(6):  # each drawn: shown, with ECharts' canvas in it
            await expect(charts.nth(n)).to_be_visible()
            await expect(charts.nth(n).locator("canvas")).to_have_count(1)
        # With the charts drawn, the table of days is folded away (still there to open).
        await expect(page.locator("details.by-day")).not_to_have_attribute("open", "")
        await page.get_by_role("link", name="开售中的藏书票").first.click()

        await expect(page.locator("h1")).to_have_text("开售中的藏书票")
        await expect(page.locator(".live-panel canvas")).to_have_count(1)
        await expect(page.locator("[data-live-status]")).to_have_text(
            "实时，每秒更新。", timeout=10_000
        )
        left = page.locator("[data-live=left]")
        await expect(left).to_have_text("40")
        await store.place_order(
            buyer=buyer,
            items=[store.Wanted(product_id=drop.id, quantity=2)],
            now=datetime.now(UTC),
            counter=MemoryCounter(),
            shipping=address(),
        )
        # The stream's next state, by itself: two units held, none paid yet.
        await expect(left).to_have_text("38", timeout=10_000)
        await expect(page.locator("[data-live=holds]")).to_have_text("1")
        await page.close()
