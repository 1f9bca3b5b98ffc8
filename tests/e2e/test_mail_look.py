"""Every kind of mail's HTML part opened in the browser, at a phone's and a computer's width, in
Chinese and in English: screenshots in var/screenshots/mail/ (and each HTML part beside them),
looked at by eye. The layout must not need scrolling sideways on a phone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.conftest import WatchedBrowser
from tests.mails import every_kind

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "mail"
SHOWN = ("verify", "login_code", "order_paid", "order_shipped", "drop_open",
         "membership_granted", "renewal_reminder", "broadcast")  # fmt: skip


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_the_html_mails_look_right_on_a_phone_and_a_computer(
    browser: WatchedBrowser, locale: str
) -> None:
    _user, _order, written = await every_kind(locale)
    await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
    page = await browser.new_page(locale="zh-CN" if locale == "zh_CN" else "en-US")
    for item in written:
        if item.kind not in SHOWN:
            continue
        html = item.row.html or ""
        (SCREENSHOTS / f"{item.kind}-{locale}.html").write_text(html, encoding="utf-8")
        for width in (390, 1280):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.set_content(html, wait_until="domcontentloaded")
            wide = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, (item.kind, width, wide)  # nothing wider than the screen
            await page.screenshot(
                path=SCREENSHOTS / f"{item.kind}-{locale}-{width}.png", full_page=True
            )
    await page.context.close()
