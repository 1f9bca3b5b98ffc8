"""Your data in a browser, in Chinese and in English: a member opens 我的数据 from the account
page, asks for a copy, the job writes it, and they download the ZIP. Screenshots in
var/screenshots/privacy/."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect

from privacy import export
from settings import Settings
from tests.e2e.conftest import WatchedBrowser, photograph, sign_in_page
from tests.factories import PASSWORD, make_member
from tests.live import running_server

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "privacy"
WORDS = {
    "zh-CN": {"data": "我的数据", "ask": "申请数据副本", "download": "下载 ZIP"},
    "en-US": {"data": "Your data", "ask": "Ask for a copy", "download": "Download the ZIP"},
}


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_member_asks_for_their_data_and_downloads_it(
    browser: WatchedBrowser, settings: Settings, locale: str, tmp_path: Path
) -> None:
    said = WORDS[locale]
    member = await make_member(email=f"copy-{locale}@example.cn", name="林书友")
    with running_server(settings) as base_url:
        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await sign_in_page(page, base_url, member.email or "", PASSWORD)
        await page.goto(f"{base_url}/account")
        await page.get_by_role("link", name=said["data"], exact=True).click()
        await expect(page).to_have_url(f"{base_url}/me/data")
        await photograph(page, SCREENSHOTS, "before", locale)
        await page.get_by_role("button", name=said["ask"], exact=True).click()
        await expect(page.locator("[data-export-state=pending]")).to_be_visible()
        await photograph(page, SCREENSHOTS, "pending", locale)

        # The job's run (the same function the periodic job calls).
        await export.write_pending(
            var_dir=settings.var_dir, link_hours=settings.export_link_hours, now=datetime.now(UTC)
        )
        await page.reload()
        link = page.get_by_role("link", name=said["download"], exact=True)
        await expect(link).to_be_visible()
        await photograph(page, SCREENSHOTS, "ready", locale)
        async with page.expect_download() as waiting:
            await link.click()
        download = await waiting.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        assert download.suggested_filename.startswith("shuyuan-data-")
        with zipfile.ZipFile(saved) as archive:
            assert "README.txt" in archive.namelist()
            assert member.email in archive.read("account.json").decode()
        await page.context.close()
