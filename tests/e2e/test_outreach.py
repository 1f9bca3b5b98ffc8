"""Browser journey: an admin finds a member, writes a note on them, builds a segment, writes a
broadcast to it for tomorrow morning, previews it, sends it, and watches its progress page
follow the sending by itself. Photographed at 390 and 1280 px (var/screenshots/outreach/),
in Chinese, then in English on a second run."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from accounts.models import Notification
from crm import broadcasts
from crm.models import Broadcast, BroadcastStatus, Segment
from settings import Settings
from tests.e2e.conftest import WatchedBrowser, photograph, sign_in_page
from tests.factories import PASSWORD, make_member, make_user
from tests.live import running_server
from web.rendering import SHANGHAI

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "outreach"
WORDS = {
    "zh": {
        "find": "查找",
        "add_note": "添加备注",
        "save_segment": "保存分群",
        "preview": "预览",
        "send": "发送",
        "scheduled": "待发送",
        "sent": "已发送",
    },
    "en": {
        "find": "Find",
        "add_note": "Add the note",
        "save_segment": "Save the segment",
        "preview": "Preview",
        "send": "Send",
        "scheduled": "Scheduled to send",
        "sent": "Sent",
    },
}


async def shots(page: Page, name: str, language: str) -> None:
    await photograph(page, SCREENSHOTS, name, language)


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_an_admin_finds_a_member_notes_them_and_sends_a_segment_a_broadcast(
    browser: WatchedBrowser, settings: Settings, language: str
) -> None:
    words = WORDS[language]
    admin = await make_user(admin=True, name="运营小周")
    member = await make_member(days=20, name="王小明")
    await make_member(days=300)  # a member, but not ending soon: outside the segment
    # Tomorrow 09:00 in Shanghai: the server's own job will not start it; the test does.
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    with running_server(settings) as base_url:
        page = await browser.new_page(
            locale="zh-CN" if language == "zh" else "en-US",
            viewport={"width": 1280, "height": 900},
        )
        await sign_in_page(page, base_url, admin.email, PASSWORD)

        await page.goto(f"{base_url}/admin/people")
        await page.fill("input[name=q]", "王小明")
        await page.get_by_role("button", name=words["find"]).click()
        await page.get_by_role("link", name="王小明").click()
        await expect(page).to_have_url(f"{base_url}/admin/people/{member.id}")
        await page.fill(
            "form.note-form textarea[name=body]", "电话咨询续费，答应到期前一周再提醒。"
        )
        await page.get_by_role("button", name=words["add_note"]).click()
        await expect(page.locator("ol.notes")).to_contain_text("答应到期前一周再提醒")
        await expect(page.locator("ol.notes")).to_contain_text("运营小周")
        await shots(page, "person", language)

        await page.goto(f"{base_url}/admin/segments")
        await page.fill("form.segment-form input[name=name]", "三十天内到期的会员")
        await page.select_option("form.segment-form select[name=membership]", "member")
        await page.fill("form.segment-form input[name=expires_within_days]", "30")
        await page.get_by_role("button", name=words["save_segment"]).click()
        row = page.locator("table tr", has_text="三十天内到期的会员")
        await expect(row).to_contain_text("1")  # 王小明 alone: the other ends in 300 days
        await shots(page, "segments", language)

        await page.goto(f"{base_url}/admin/broadcasts/new")
        await page.fill("#broadcast-form input[name=title]", "续费提醒：老会员续费从原到期日接着算")
        await page.fill(
            "#broadcast-form textarea[name=body]",
            "你的会员还有不到一个月到期。\n\n[现在续费](https://example.cn/renew)，一天也不浪费。",
        )
        await page.check("#broadcast-form input[name=audience][value=segment]")
        segment = await Segment.get(name="三十天内到期的会员")
        await page.select_option("#broadcast-form select[name=segment_id]", str(segment.id))
        await page.check("#broadcast-form input[name=when][value=later]")
        await page.fill("#broadcast-form input[name=send_at]", tomorrow.strftime("%Y-%m-%dT%H:%M"))
        await page.get_by_role("button", name=words["preview"]).first.click()
        preview = page.locator("section.preview")
        await expect(preview).to_contain_text("一天也不浪费")  # as a member reads it
        await expect(preview.locator(".mail-preview")).to_contain_text("续费提醒")  # the mail
        await shots(page, "preview", language)
        await preview.get_by_role("button", name=words["send"], exact=True).click()

        await expect(page).to_have_url(re.compile(r"/admin/broadcasts/\d+$"))
        assert page.url == f"{base_url}/admin/broadcasts/{await latest_id()}"
        progress = page.locator("#broadcast-progress")
        await expect(progress).to_contain_text(words["scheduled"])
        await shots(page, "progress-scheduled", language)
        # Tomorrow morning, as the job would see it: started and sent, while the page, left
        # alone, follows by itself (htmx asks for its progress every 2 s).
        broadcast = await Broadcast.get(id=await latest_id())
        assert broadcast.send_at == tomorrow.astimezone(UTC)
        while (await broadcasts.send_due(now=broadcast.send_at)).started or await Broadcast.filter(
            id=broadcast.id, status=BroadcastStatus.SENDING
        ).exists():
            pass
        await expect(progress.locator("h2")).to_contain_text(words["sent"], timeout=10_000)
        await expect(progress.locator("progress")).to_have_attribute("value", "1")
        await shots(page, "progress-sent", language)
        assert await Notification.filter(kind="broadcast").values_list("user_id", flat=True) == [
            member.id
        ]
        await page.close()


async def latest_id() -> int:
    latest = await Broadcast.all().order_by("-id").first()
    assert latest is not None, "no broadcast was made"
    return latest.id
