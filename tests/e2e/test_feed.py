"""Browser journey on the feed: the voice plays through Range requests, speeds change, and the
player resumes where the reader left off; the keyword box brings the article."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from community.feed import editing as feed_editing
from community.feed.audio import check_audio, silent_mp3
from settings import Settings
from tests.e2e.conftest import WatchedBrowser
from tests.live import running_server

pytestmark = pytest.mark.e2e


async def test_listen_change_speed_resume_and_reply_with_the_keyword(
    browser: WatchedBrowser, settings: Settings
) -> None:
    now = datetime.now(UTC)
    await feed_editing.create_item(
        title="做时间的朋友",
        body="时间是最好的朋友，也是最大的敌人。",
        keyword="时间",
        audio=check_audio(silent_mp3(60)),
        now=now,
    )
    with running_server(settings) as base_url:
        page = await browser.new_page(locale="zh-CN")
        ranges: list[str] = []
        page.on(
            "request",
            lambda r: (
                ranges.append(r.headers.get("range", "")) if "/feed/audio/" in r.url else None
            ),
        )
        await page.goto(f"{base_url}/feed")
        audio = page.locator("audio")
        await expect(audio).to_have_count(1)
        await page.wait_for_function("document.querySelector('audio').duration > 59")
        assert any(value.startswith("bytes=") for value in ranges)  # the player asked by range

        await page.get_by_role("button", name="1.5×").click()
        assert await audio.evaluate("a => a.playbackRate") == 1.5
        await expect(page.get_by_role("button", name="1.5×")).to_have_attribute(
            "aria-pressed", "true"
        )

        await audio.evaluate("a => { a.currentTime = 31; }")
        await page.wait_for_function("document.querySelector('audio').currentTime > 30")
        await audio.evaluate("a => a.dispatchEvent(new Event('timeupdate'))")
        await page.reload()
        await page.wait_for_function("document.querySelector('audio').currentTime > 30")

        await page.fill("form.keyword-box input[name=keyword]", "  时间！")
        await page.click("form.keyword-box button")
        await expect(page.locator("main")).to_contain_text("时间是最好的朋友")
        await page.close()
