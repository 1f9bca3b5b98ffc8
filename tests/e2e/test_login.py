"""Browser smoke test: Debian's chromium, driven by Playwright, signs in through the real form."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from settings import Settings
from tests.e2e.conftest import WatchedBrowser
from tests.factories import PASSWORD, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e


async def test_a_member_signs_in_and_out_through_the_real_form(
    browser: WatchedBrowser, settings: Settings
) -> None:
    await make_user(email="chen@example.cn", name="陈老师")
    with running_server(settings) as base_url:
        page = await browser.new_page(locale="zh-CN")
        await page.goto(f"{base_url}/account")
        await expect(page).to_have_url(f"{base_url}/account/login?next=/account")
        await expect(page.locator("h1")).to_have_text("登录")

        await page.fill("input[name=email]", "chen@example.cn")
        await page.fill("input[name=password]", "not the password")
        await page.click("form[action='/account/login'] button[type=submit]")
        await expect(page.get_by_role("alert")).to_contain_text("邮箱或密码错误")

        await page.fill("input[name=password]", PASSWORD)
        await page.click("form[action='/account/login'] button[type=submit]")
        await expect(page).to_have_url(f"{base_url}/account")
        await expect(page.locator("main")).to_contain_text("陈老师")

        cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
        assert cookies["shuyuan_session"]["httpOnly"] is True
        assert cookies["shuyuan_session"]["sameSite"] == "Lax"

        await page.click("form[action='/account/logout'] button")
        await expect(page).to_have_url(f"{base_url}/")
        await expect(page.locator("nav")).to_contain_text("登录")
        await page.close()
