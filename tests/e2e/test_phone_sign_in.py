"""Browser journey: on a phone-sized page (390 px), a person signs in with a mobile number and
the code the SMS stand-in delivered (its folder is the phone), in Chinese and in English."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from accounts.models import Identity
from settings import Settings
from tests.e2e.conftest import WatchedBrowser, photograph
from tests.live import running_server

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "phone"
WORDS = {
    "zh-CN": {"link": "用手机号登录", "send": "获取验证码", "sign_in": "登录"},
    "en-US": {
        "link": "Sign in with a phone number",
        "send": "Text me a code",
        "sign_in": "Sign in",
    },
}


def code_texted_to(folder: Path, phone: str) -> str:
    found = [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*.json"))]
    texts = [m["text"] for m in found if m["phone"] == phone]
    assert texts, f"no text message reached {phone}"
    code = re.search(r"验证码为(\d{6})", texts[-1])
    assert code, texts[-1]
    return code.group(1)


@pytest.mark.parametrize(("locale", "phone"), [("zh-CN", "13600000001"), ("en-US", "13600000002")])
async def test_a_person_signs_in_by_phone_on_a_phone_sized_page(
    browser: WatchedBrowser,
    settings: Settings,
    sms_gateway: tuple[str, Path],
    locale: str,
    phone: str,
) -> None:
    words = WORDS[locale]
    with running_server(settings) as base_url:
        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await page.goto(f"{base_url}/account/login?next=/account")
        await page.get_by_role("link", name=words["link"]).click()
        await expect(page).to_have_url(f"{base_url}/account/login/phone?next=/account")
        await photograph(page, SCREENSHOTS, "number", locale)

        await page.fill("input[name=phone]", f"{phone[:3]} {phone[3:7]} {phone[7:]}")
        await page.get_by_role("button", name=words["send"]).click()
        await expect(page.locator("input[name=code]")).to_be_visible()
        await page.set_viewport_size({"width": 390, "height": 844})
        code = await asyncio.to_thread(code_texted_to, sms_gateway[1], phone)
        await photograph(page, SCREENSHOTS, "code", locale)

        await page.set_viewport_size({"width": 390, "height": 844})
        await page.fill("input[name=code]", code)
        await page.get_by_role("button", name=words["sign_in"], exact=True).click()
        await expect(page).to_have_url(f"{base_url}/account")
        # The new account's page: its way in, the number with its middle hidden.
        await expect(page.locator("#ways-in")).to_contain_text(f"{phone[:3]}****{phone[-4:]}")
        await photograph(page, SCREENSHOTS, "signed-in", locale)
        cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
        assert cookies["sy_device"]["httpOnly"] is True  # a known device from now on
        await page.close()
    assert await Identity.filter(subject=f"+86{phone}").exists()
