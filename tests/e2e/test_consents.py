"""Consent in a browser, in Chinese and in English: a visitor signs up ticking the terms, the
privacy policy and the age statement; a new version of the terms is published and the member
is asked again on their next page, agrees, and is back where they were; the checkout shows the
cross-border notice beside the card. Screenshots in var/screenshots/consents/."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect

from accounts import legal_documents
from accounts.models import Consent, User
from settings import Settings
from tests.e2e.conftest import WatchedBrowser, photograph
from tests.live import running_server
from tests.payments.test_wallets import held_order

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "consents"
WORDS = {
    "zh-CN": {"create": "创建账户", "agree": "同意并继续", "changed": "已更新"},
    "en-US": {"create": "Create account", "agree": "Agree and continue", "changed": "have changed"},
}  # fmt: skip


@pytest.mark.parametrize("locale", list(WORDS))
async def test_sign_up_with_the_boxes_then_a_new_version_is_asked_again(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    said = WORDS[locale]
    now = datetime.now(UTC)
    await legal_documents.publish(
        "terms", "书院用户协议", "第一版条款。\n\n一、账号", by=None, now=now
    )
    await legal_documents.publish("privacy", "书院隐私政策", "第一版隐私政策。", by=None, now=now)
    email = f"new-{locale.lower()}@example.cn"
    with running_server(settings) as base_url:
        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await page.goto(f"{base_url}/account/register")
        await page.fill("input[name=email]", email)
        await page.fill("input[name=display_name]", "新读者")
        await page.fill("input[name=password]", "correct horse battery")
        for box in ("terms", "privacy", "age_14"):
            await page.locator(f"input[name={box}]").check()
        await photograph(page, SCREENSHOTS, "sign-up", locale)
        await page.get_by_role("button", name=said["create"]).click()
        await expect(page).to_have_url(f"{base_url}/")
        user = await User.get(email=email)
        assert (user.agreed_terms, user.agreed_privacy) == (1, 1)
        assert await Consent.filter(user_id=user.id, purpose="age_14").exists()

        await legal_documents.publish("terms", "书院用户协议", "第二版条款。", by=None, now=now)
        await asyncio.sleep(1.2)  # the server's memory of the versions lasts a second
        await page.goto(f"{base_url}/account")
        await expect(page).to_have_url(f"{base_url}/me/consent?next=/account")
        await expect(page.locator("#agree")).to_contain_text(said["changed"])
        assert await page.locator("input[name=age_14]").count() == 0  # stated at sign-up
        await photograph(page, SCREENSHOTS, "asked-again", locale)
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.locator("input[name=terms]").check()
        await page.get_by_role("button", name=said["agree"]).click()
        await expect(page).to_have_url(f"{base_url}/account")
        assert (await User.get(id=user.id)).agreed_terms == 2
        await page.goto(f"{base_url}/me/consent")
        await photograph(page, SCREENSHOTS, "answers", locale)

        order = await held_order(user)
        await page.goto(f"{base_url}/store/orders/{order.id}/pay")
        await page.locator("input[type=radio][value=card]").check()
        await expect(page.locator("#cross-border")).to_be_visible()
        await photograph(page, SCREENSHOTS, "checkout-abroad", locale)
        await page.goto(f"{base_url}/legal/terms")
        await photograph(page, SCREENSHOTS, "terms", locale)
        await page.context.close()
