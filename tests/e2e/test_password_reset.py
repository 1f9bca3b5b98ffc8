"""Browser journey: a forgotten password, the mail received over real SMTP, its link followed,
a new password set, and signing in with it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from accounts import outbox, requested_mail
from accounts.mail import Mailer
from settings import Settings
from tests.e2e.conftest import WatchedBrowser
from tests.factories import make_user
from tests.live import running_server
from tests.smtp import SmtpServer, text_of

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "a fresh and long passphrase 42"


async def test_a_reader_resets_a_forgotten_password_from_the_mail(
    browser: WatchedBrowser, settings: Settings, tmp_path: Path
) -> None:
    await make_user(email="wang@example.cn", name="王同学")
    smtp = SmtpServer(tmp_path / "Maildir")
    smtp.start()
    try:
        with running_server(settings) as base_url:
            page = await browser.new_page(locale="zh-CN")
            await page.goto(f"{base_url}/account/login")
            await page.click("a[href='/account/forgot']")
            await page.fill("input[name=email]", "wang@example.cn")
            await page.click("form[action='/account/forgot'] button[type=submit]")
            await expect(page.get_by_role("status")).to_contain_text("链接")

            # The outbox's job delivers it (here at once, not on its 5-second period): first
            # the ask becomes a mail (the account looked up), then the mail is sent.
            await requested_mail.send_due(now=datetime.now(UTC))
            await outbox.deliver_due(
                Mailer(smtp.url, "noreply@shuyuan.test"), now=datetime.now(UTC)
            )
            # Registering mailed a verification link too: the reset is the one with a reset link.
            [text] = [text_of(m) for m in smtp.received() if "/account/reset/" in text_of(m)]
            link = re.search(r"https?://\S+/account/reset/\S+", text)
            assert link, text
            await page.goto(base_url + urlsplit(link.group(0)).path)
            await page.fill("input[name=password]", NEW_PASSWORD)
            await page.click("form button[type=submit] >> nth=-1")
            await expect(page).to_have_url(f"{base_url}/account/login")
            await expect(page.locator("main")).to_contain_text("新密码已设置")

            await page.fill("input[name=email]", "wang@example.cn")
            await page.fill("input[name=password]", NEW_PASSWORD)
            await page.click("form[action='/account/login'] button[type=submit]")
            await expect(page).to_have_url(f"{base_url}/")
            await page.goto(f"{base_url}/account")
            await expect(page.locator("main")).to_contain_text("王同学")
            await page.close()
    finally:
        smtp.stop()
