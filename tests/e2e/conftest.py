"""Browser fixtures: Debian's chromium through Playwright, skipped where it is missing."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM = Path(os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium"))
HAVE_CHROMIUM = CHROMIUM.exists()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        if os.environ.get("TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and TEST_REQUIRE_BROWSER=1 (apt install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium); .ci/run installs it")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield browser
        await browser.close()


async def sign_in_page(page: Page, base_url: str, email: str, password: str) -> None:
    await page.goto(f"{base_url}/account/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    await page.click("form[action='/account/login'] button[type=submit]")
    await expect(page).to_have_url(f"{base_url}/")
