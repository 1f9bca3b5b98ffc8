"""The API's page for people (/api/docs): the vendored swagger-ui draws every operation from
/api/v1/openapi.json, under the site's Content-Security-Policy (no inline script)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from settings import Settings
from tests.e2e.conftest import WatchedBrowser
from tests.live import running_server

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "api-docs"


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_the_api_page_draws_every_operation_under_the_policy(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with running_server(settings) as base_url:
        for width in (390, 1280):
            page = await browser.new_page(locale=locale, viewport={"width": width, "height": 900})
            await page.goto(f"{base_url}/api/docs")
            operations = page.locator(".swagger-ui .opblock")
            await expect(operations.first).to_be_visible(timeout=20_000)
            assert await operations.count() > 50
            await expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/orders")
            await page.screenshot(path=SCREENSHOTS / f"{locale}-{width}.png", full_page=False)
            await page.close()
    # The browser fixture fails the test on any policy violation reported on the way.
