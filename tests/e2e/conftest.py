"""Browser fixtures: Debian's chromium through Playwright, skipped where it is missing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

CHROMIUM = Path(os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium"))
HAVE_CHROMIUM = CHROMIUM.exists()


# Every page of every journey reports Content-Security-Policy violations to its console, where
# the fixture below collects them: a journey that trips the policy fails.
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (event) => {
  console.error('csp-violation ' + event.violatedDirective + ' ' + (event.blockedURI || 'inline')
                + ' at ' + event.sourceFile + ':' + event.lineNumber);
});
"""


class WatchedBrowser:
    """The browser, whose pages report CSP violations into `violations`."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.violations: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on(
            "console",
            lambda message: (
                self.violations.append(f"{page.url}: {message.text}")
                if message.text.startswith("csp-violation")
                or "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    async def new_context(self, **options: Any) -> BrowserContext:
        context = await self.browser.new_context(**options)
        await context.add_init_script(REPORT_VIOLATIONS)
        context.on("page", self.watch)
        return context

    async def new_page(self, **options: Any) -> Page:
        context = await self.new_context(**options)
        return await context.new_page()

    async def close(self) -> None:
        await self.browser.close()


@pytest.fixture
async def browser() -> AsyncIterator[WatchedBrowser]:
    if os.environ.get("TEST_BROWSER") == "0":  # make test: the run on the other database has them
        pytest.skip("the browser tests run once per make test, in the SQLite run")
    if not HAVE_CHROMIUM:
        if os.environ.get("TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and TEST_REQUIRE_BROWSER=1 (apt install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium); .ci/run installs it")
    async with async_playwright() as playwright:
        watched = WatchedBrowser(
            await playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
        )
        yield watched
        await watched.close()
        assert watched.violations == [], "Content-Security-Policy violations:\n" + "\n".join(
            watched.violations
        )


async def phone_page(browser: WatchedBrowser, locale: str, agent: str) -> Page:
    """A new page in a phone's browser (390 px, touch) saying it is `agent`: a phone's own
    browser, or WeChat's."""
    context = await browser.new_context(
        locale=locale,
        user_agent=agent,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    return await context.new_page()


async def sign_in_page(page: Page, base_url: str, email: str, password: str) -> None:
    await page.goto(f"{base_url}/account/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    await page.click("form[action='/account/login'] button[type=submit]")
    await expect(page).to_have_url(f"{base_url}/")


async def fill_shipping(page: Page, *, name: str, phone: str) -> None:
    """The checkout's shipping address (a Beijing one), on an order's pay page."""
    await page.fill("input[name='shipping.name']", name)
    await page.fill("input[name='shipping.phone']", phone)
    await page.select_option("select[name='shipping.province']", "北京市")
    # The linked picker (static/js/division-picker.js) turns city and district into lists.
    await page.locator("select[name='shipping.city'] option[value='北京市']").wait_for(
        state="attached"
    )
    await page.select_option("select[name='shipping.city']", "北京市")
    await page.select_option("select[name='shipping.district']", "海淀区")
    await page.fill("input[name='shipping.address']", "中关村大街 1 号")


async def pay_by_card(
    page: Page, number: str = "4242424242424242", *, agree_abroad: bool = False
) -> None:
    """Choose the card (WeChat Pay comes first), type a test card, press pay; with
    `agree_abroad`, first tick the cross-border notice's box (a person who never agreed to
    it: made by a sign-up form or WeChat, not by the factories)."""
    await page.locator("input[type=radio][value=card]").check()
    if agree_abroad:
        await page.locator("#cross-border-box").check()
    await page.fill("#card-element input[placeholder=number]", number)
    await page.fill("#card-element input[placeholder=exp_month]", "12")
    await page.fill("#card-element input[placeholder=exp_year]", "31")
    await page.fill("#card-element input[placeholder=cvc]", "123")
    await page.fill("#card-element input[placeholder=postal_code]", "10000")
    await page.click("#pay-button")


async def photograph(page: Page, folder: Path, name: str, language: str) -> None:
    """The page as it is, at 390 and 1280 px, into folder/{name}-{language}-{width}.png: from
    the top (a console's menu is sticky), after two frames drawn at the new width (a tall
    page's tiles too)."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    for width in (390, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.evaluate("window.scrollTo(0, 0)")
        await page.evaluate(
            "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
        )
        await page.screenshot(path=folder / f"{name}-{language}-{width}.png", full_page=True)
