"""Browser journey: watch the countdown, enroll when it opens, pay by card, be welcomed, see
the card; the window page (benefits, questions) and the welcome are photographed at 390 and
1280 px in both languages (var/screenshots/membership/, looked at by eye)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from membership import windows
from membership.benefits import Question
from settings import Settings
from tests.e2e.conftest import WatchedBrowser, sign_in_page
from tests.factories import PASSWORD, make_member, make_user, make_window
from tests.live import running_server

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "membership"
BENEFITS = [
    "每天早上一条六十秒语音，回复关键词即得当天文章",
    "会员专属文章全文，以及可在任意播客应用收听的私人播客地址",
    "会员社区：求职、招聘、知识分享与提问，只对会员开放",
]
FAQ = [
    Question(
        "会员有效期怎么算？",
        "从付款成功那一刻起算 365 天。\n到期前 30 天我们会提醒你续费，续费从原到期日接着算。",
    ),
    Question("可以退款吗？", "开通后 7 天内可全额退款，会员资格随之结束。"),
]


async def _shots(page: Page, name: str, language: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=SCREENSHOTS / f"{name}-{language}-{width}.png", full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_a_reader_enrolls_when_the_window_opens_and_pays_by_card(
    browser: WatchedBrowser, settings: Settings
) -> None:
    await make_user(email="zhou@example.cn", name="周同学")
    for _ in range(3):  # the community the page counts
        await make_member()
    with running_server(settings) as base_url:
        page = await browser.new_page(locale="zh-CN")
        await sign_in_page(page, base_url, "zhou@example.cn", PASSWORD)
        # Opened only now, so a slow start or sign-in cannot eat the countdown we watch.
        now = datetime.now(UTC)
        window = await make_window(now=now, opens_in=timedelta(seconds=6), seats=2)
        await windows.update_window(window.id, now=now, benefits=BENEFITS, faq=FAQ)
        await page.goto(f"{base_url}/membership")
        countdown = page.locator(".countdown [data-countdown]")
        await expect(countdown).to_contain_text(":")
        first = await countdown.inner_text()
        await page.wait_for_timeout(1200)
        assert await countdown.inner_text() != first  # it counts down

        # At opening the page reloads itself and offers the seat.
        enroll = page.get_by_role("button", name="立即报名")
        await expect(enroll).to_be_visible(timeout=15_000)
        await expect(page.locator("#seats-left")).to_contain_text("2")
        await expect(page.locator("ul.benefits li")).to_have_count(3)
        await expect(page.locator(".member-count")).to_have_text("已有 3 位会员加入书院")
        await page.get_by_text("会员有效期怎么算？").click()  # a <details>: opens without script
        await expect(page.get_by_text("到期前 30 天我们会提醒你续费", exact=False)).to_be_visible()
        await _shots(page, "window", "zh")
        await enroll.click()
        await expect(page).to_have_url(re.compile(r".*/membership/enrollments/[0-9]+/pay$"))

        # localstripe's Stripe.js draws plain inputs for the card; this one asks for 3-D
        # Secure, which localstripe's stand-in shows as a box to confirm (under the CSP).
        await page.get_by_role("radio", name="银行卡").check()  # WeChat Pay comes first
        await page.fill("#card-element input[placeholder=number]", "4000002500003155")
        await page.fill("#card-element input[placeholder=exp_month]", "12")
        await page.fill("#card-element input[placeholder=exp_year]", "31")
        await page.fill("#card-element input[placeholder=cvc]", "123")
        await page.fill("#card-element input[placeholder=postal_code]", "10000")
        await page.click("#pay-button")
        await page.get_by_role("button", name="Complete authentication").click(timeout=15_000)

        # Paid: the welcome says what the new member has and where to start.
        await expect(page).to_have_url(f"{base_url}/membership/welcome", timeout=15_000)
        await expect(page.locator("h1")).to_contain_text("欢迎加入书院")
        await expect(page.locator(".welcome ul.benefits li")).to_have_count(3)
        await _shots(page, "welcome", "zh")
        await page.get_by_role("link", name="打开会员卡").click()
        await expect(page).to_have_url(f"{base_url}/membership/card")
        await expect(page.locator("#member-number")).to_have_text("SY-000001")
        valid_until = (datetime.now(UTC) + timedelta(days=365, hours=8)).strftime("%Y-%m-%d")
        await expect(page.locator("#valid-until")).to_have_text(valid_until)
        assert await page.locator(".qr svg").count() == 1

        await page.goto(f"{base_url}/lang/en?next=/membership/welcome")
        await expect(page.get_by_role("link", name="Get your podcast address")).to_be_visible()
        await _shots(page, "welcome", "en")
        await page.close()

        visitor = await browser.new_page(locale="en-US")  # the page as it sells, in English
        await visitor.goto(f"{base_url}/lang/en?next=/membership")
        await expect(visitor.locator(".member-count")).to_have_text(
            "4 members in the community now"
        )
        await visitor.get_by_text("可以退款吗？").click()
        await _shots(visitor, "window", "en")
        await visitor.close()
