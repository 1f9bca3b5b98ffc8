"""Leaving (注销) in a browser, in Chinese and in English: a member with a membership reads
what cancelling does, cancels their account with their password and the confirmation, is
signed out and told the date; signs in again and is told it is undone; then cancels again.
Screenshots in var/screenshots/leaving/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from accounts.models import User
from settings import Settings
from tests.e2e.conftest import WatchedBrowser, photograph, sign_in_page
from tests.factories import PASSWORD, make_member
from tests.live import running_server

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "leaving"
WORDS = {
    "zh-CN": {"cancel": "注销我的账号", "back": "欢迎回来", "left": "你的账号正在注销"},
    "en-US": {"cancel": "Cancel my account", "back": "Welcome back",
              "left": "Your account is being cancelled"},
}  # fmt: skip


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_member_cancels_their_account_comes_back_and_cancels_again(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    said = WORDS[locale]
    member = await make_member(email=f"leaver-{locale}@example.cn", name="周同学")
    with running_server(settings) as base_url:
        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await sign_in_page(page, base_url, member.email or "", PASSWORD)
        await page.goto(f"{base_url}/account")
        await page.locator("#leave-link a").click()
        await expect(page.locator("#membership-forfeited")).to_be_visible()
        await photograph(page, SCREENSHOTS, "leave", locale)

        async def cancel() -> None:
            await page.fill("input[name=password]", PASSWORD)
            await page.check("input[name=confirm]")
            await page.get_by_role("button", name=said["cancel"], exact=True).click()
            await expect(page.locator("#left h1")).to_have_text(said["left"])

        await cancel()
        assert (await User.get(id=member.id)).erase_after is not None
        await photograph(page, SCREENSHOTS, "left", locale)
        await page.goto(f"{base_url}/account")
        await expect(page).to_have_url(f"{base_url}/account/login?next=/account")

        await sign_in_page(page, base_url, member.email or "", PASSWORD)
        await expect(page.locator(".flash").first).to_contain_text(said["back"])
        await photograph(page, SCREENSHOTS, "came-back", locale)
        assert (await User.get(id=member.id)).erase_after is None

        await page.goto(f"{base_url}/me/leave")
        await cancel()
        assert (await User.get(id=member.id)).erase_after is not None
        await page.context.close()
