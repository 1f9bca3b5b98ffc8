"""Browser smoke test: Debian's chromium, driven by Playwright, signs in through the real form."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from accounts import requested_mail
from accounts.models import OutboxMessage
from accounts.services import FAILED_LOGINS_PER_ACCOUNT
from settings import Settings
from tests.e2e.conftest import WatchedBrowser, sign_in_page
from tests.factories import PASSWORD, bearer, make_member, make_user, sign_in, token_for
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


SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "login"


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_a_browser_on_a_throttled_address_signs_in_with_a_mailed_code(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    """A stranger on the same address failed five times: the owner's new browser is refused,
    asks for a code, and signs in with the code and the password."""
    await make_user(email="owner@example.cn", name="主人")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with running_server(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as stranger:
            for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts):
                guess = {"email": "owner@example.cn", "password": "a wrong guess"}
                assert (await stranger.post("/api/v1/tokens", json=guess)).status_code == 401
        page = await browser.new_page(locale=locale)
        await page.goto(f"{base_url}/account/login")
        await page.fill("input[name=email]", "owner@example.cn")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("form[action='/account/login'] button[type=submit]")
        offer = page.locator("form[action='/account/login/code'] button")
        await expect(offer).to_be_visible()
        await shoot(page, "refused", locale)
        await offer.click()
        await expect(page.locator("input[name=code]")).to_be_visible()
        await shoot(page, "code", locale)
        await requested_mail.send_due(now=datetime.now(UTC))  # the outbox job's first step
        mail = await OutboxMessage.get(
            recipient="owner@example.cn", dedupe_key__startswith="login-code:"
        )
        code = re.search(r"\b(\d{6})\b", mail.text)
        assert code, mail.text
        await page.fill("input[name=password]", PASSWORD)
        await page.fill("input[name=code]", code.group(1))
        await page.click("form[action='/account/login'] button[type=submit]")
        await expect(page).to_have_url(f"{base_url}/")
        await page.goto(f"{base_url}/account")
        await expect(page.locator("main")).to_contain_text("主人")
        cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
        assert cookies["sy_device"]["httpOnly"] is True  # a known device from now on
        await page.close()


async def shoot(page: Page, name: str, locale: str) -> None:
    for width in (390, 1280):  # looked at by eye: var/screenshots/login/
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=SCREENSHOTS / f"{name}-{locale}-{width}.png", full_page=True)


WECHAT_ON_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_a_member_signs_out_everywhere_else_from_the_account_page(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    """The account page names the phone's WeChat session and the API token beside this
    browser; its button ends them both and keeps this browser signed in."""
    member = await make_member(email="hub@example.cn", name="林会员")
    token = await token_for(member)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with running_server(settings) as base_url:
        async with httpx.AsyncClient(
            base_url=base_url, headers={"user-agent": WECHAT_ON_IOS}
        ) as phone:
            await sign_in(phone, member.email)
            assert (await phone.get("/account")).status_code == 200
            page = await browser.new_page(locale=locale)
            await sign_in_page(page, base_url, member.email, PASSWORD)
            await page.goto(f"{base_url}/account")
            sessions = page.locator("ul.sessions")
            await expect(sessions).to_contain_text("WeChat 8.0")
            await expect(sessions.locator("li")).to_have_count(3)
            await shoot(page, "account", locale)
            await page.click("form[action='/account/sessions/end-others'] button")
            await expect(page).to_have_url(f"{base_url}/account")
            await expect(sessions.locator("li")).to_have_count(1)
            await shoot(page, "account-alone", locale)
            assert (await phone.get("/account")).status_code == 303
            assert (await phone.get("/api/v1/me", headers=bearer(token))).status_code == 401
        await page.close()
