"""Browser journey: watch the countdown, enroll when it opens, pay by card, see the card."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from settings import Settings
from tests.e2e.conftest import WatchedBrowser, sign_in_page
from tests.factories import PASSWORD, make_user, make_window
from tests.live import running_server

pytestmark = pytest.mark.e2e


async def test_a_reader_enrolls_when_the_window_opens_and_pays_by_card(
    browser: WatchedBrowser, settings: Settings
) -> None:
    await make_user(email="zhou@example.cn", name="周同学")
    with running_server(settings) as base_url:
        page = await browser.new_page(locale="zh-CN")
        await sign_in_page(page, base_url, "zhou@example.cn", PASSWORD)
        # Opened only now, so a slow start or sign-in cannot eat the countdown we watch.
        await make_window(now=datetime.now(UTC), opens_in=timedelta(seconds=6), seats=2)
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

        await expect(page).to_have_url(f"{base_url}/membership/card", timeout=15_000)
        await expect(page.locator("#member-number")).to_have_text("SY-000001")
        valid_until = (datetime.now(UTC) + timedelta(days=365, hours=8)).strftime("%Y-%m-%d")
        await expect(page.locator("#valid-until")).to_have_text(valid_until)
        assert await page.locator(".qr svg").count() == 1
        await page.close()
