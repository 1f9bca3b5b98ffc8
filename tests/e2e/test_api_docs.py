"""The API's page for people (/api/docs): the vendored swagger-ui draws every operation from
/api/v1/openapi.json, under the site's Content-Security-Policy (no inline script).

From 150 tags and operations together, swagger-ui 5.35 virtualizes the list (TanStack Virtual:
only the rows near the viewport are in the DOM), so "every operation" is checked by scrolling
the page from top to bottom and collecting each operation drawn on the way."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from settings import Settings
from tests.e2e.conftest import WatchedBrowser
from tests.live import running_server

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "api-docs"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Each operation block swagger-ui draws is a `.opblock` whose summary line carries its method
# and path; collecting them as "METHOD path" keeps rows seen twice from counting twice.
DRAWN = """() => [...document.querySelectorAll('.swagger-ui .opblock')].map(block =>
  block.querySelector('.opblock-summary-method').textContent.trim().toLowerCase() + ' ' +
  block.querySelector('.opblock-summary-path').getAttribute('data-path'))"""


NEXT_FRAME = "new Promise(done => requestAnimationFrame(() => setTimeout(done, 50)))"


async def operations_drawn(page: Page) -> set[str]:
    """Scroll the whole page, a screen at a time, collecting every operation drawn."""
    seen: set[str] = set(await page.evaluate(DRAWN))
    while True:
        at = await page.evaluate("window.scrollY")
        await page.mouse.wheel(0, 600)
        # A frame for the virtualizer to measure and draw the rows now in view.
        await page.evaluate(NEXT_FRAME)
        seen.update(await page.evaluate(DRAWN))
        if await page.evaluate("window.scrollY") == at:
            return seen


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_the_api_page_draws_every_operation_under_the_policy(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with running_server(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            document = (await client.get("/api/v1/openapi.json")).json()
        expected = {
            f"{method} {path}"
            for path, item in document["paths"].items()
            for method in item
            if method in METHODS
        }
        assert len(expected) > 100
        for width in (390, 1280):
            page = await browser.new_page(locale=locale, viewport={"width": width, "height": 900})
            await page.goto(f"{base_url}/api/docs")
            operations = page.locator(".swagger-ui .opblock")
            await expect(operations.first).to_be_visible(timeout=20_000)
            await expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/orders")
            await page.screenshot(path=SCREENSHOTS / f"{locale}-{width}.png", full_page=False)
            assert await operations_drawn(page) == expected
            await page.close()
    # The browser fixture fails the test on any policy violation reported on the way.
