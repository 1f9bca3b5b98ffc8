"""Browser journey: a member writes to customer service from a store page (the footer's
"Contact us"), with a photo; a support staffer finds it at the head of the console's queue and
answers; the member reads the answer in the inbox and on the conversation's page, and sees it
on the account page. Photographed at 390 and 1280 px (var/screenshots/support/), in Chinese,
then in English on a second run."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import Page, expect

from settings import Settings
from support.models import Conversation, ConversationStatus
from tests.e2e.conftest import WatchedBrowser, photograph, sign_in_page
from tests.factories import PASSWORD, make_member, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "support"
WORDS = {
    "zh": {
        "contact": "联系我们",
        "send": "发送",
        "answer": "发送回复",
        "answered_you": "客服回复了你",
        "waiting": "等待回复",
        "answered": "已回复",
    },
    "en": {
        "contact": "Contact us",
        "send": "Send",
        "answer": "Send the answer",
        "answered_you": "Customer service answered you",
        "waiting": "Waiting for an answer",
        "answered": "Answered",
    },
}
QUESTION = "前天买的笔记本还没发货，截图是订单页。能帮我看看吗？"
ANSWER = "已经查过了：今天下午发出，快递单号会在订单页更新。给你添麻烦了！"


def photo(folder: Path) -> Path:
    """A phone-sized screenshot-like picture."""
    image = Image.new("RGB", (1170, 2532), (250, 248, 243))
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 300, 1090, 900), fill=(180, 69, 31))
    draw.rectangle((80, 1000, 1090, 1200), fill=(31, 35, 40))
    path = folder / "order.png"
    out = io.BytesIO()
    image.save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


async def shots(page: Page, name: str, language: str) -> None:
    await photograph(page, SCREENSHOTS, name, language)


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_a_member_writes_to_customer_service_and_reads_the_staff_s_answer(
    browser: WatchedBrowser, settings: Settings, language: str, tmp_path: Path
) -> None:
    words = WORDS[language]
    locale = "zh-CN" if language == "zh" else "en-US"
    member = await make_member(name="王小明")
    staffer = await make_user(role="support", name="客服小李")
    with running_server(settings) as base_url:
        reader = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(reader, base_url, member.email, PASSWORD)
        await reader.goto(f"{base_url}/store")
        await reader.get_by_role("link", name=words["contact"], exact=True).click()
        await expect(reader).to_have_url(f"{base_url}/contact?from=/store")
        await shots(reader, "contact", language)
        await reader.fill("textarea[name=body]", QUESTION)
        await reader.set_input_files("input[name=picture]", photo(tmp_path))
        await reader.locator("main").get_by_role("button", name=words["send"], exact=True).click()
        await expect(reader).to_have_url(re.compile(r"/contact/\d+$"))
        conversation = await Conversation.get(user_id=member.id)
        thread = reader.locator("ol.thread")
        await expect(thread).to_contain_text(QUESTION)
        await expect(thread.locator("img")).to_be_visible()
        await shots(reader, "sent", language)

        staff = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(staff, base_url, staffer.email, PASSWORD)
        await staff.goto(f"{base_url}/admin/conversations")
        first_row = staff.locator("table.queue tbody tr").first
        await expect(first_row).to_contain_text("王小明")
        await expect(first_row).to_contain_text(QUESTION[:20])
        await shots(staff, "queue", language)
        await first_row.get_by_role("link").first.click()
        await expect(staff).to_have_url(f"{base_url}/admin/conversations/{conversation.id}")
        await expect(staff.locator("ol.thread img")).to_be_visible()
        await expect(staff.locator("ol.thread")).to_contain_text("/store")  # where it was written
        await staff.fill("textarea[name=body]", ANSWER)
        await staff.locator("main").get_by_role("button", name=words["answer"], exact=True).click()
        await expect(staff.locator("ol.thread")).to_contain_text(ANSWER)
        await shots(staff, "answered-console", language)
        await conversation.refresh_from_db()
        assert conversation.status == ConversationStatus.ANSWERED
        assert conversation.first_response_at is not None
        await staff.goto(f"{base_url}/admin/conversations?status=answered")
        await expect(staff.locator("table.queue")).to_contain_text(ANSWER[:20])
        await shots(staff, "queue-answered", language)

        await reader.goto(f"{base_url}/account/notifications")
        notice = reader.locator("ul.inbox li", has_text=words["answered_you"])
        await expect(notice).to_contain_text(ANSWER[:10])
        await shots(reader, "inbox", language)
        await notice.get_by_role("link").click()
        await expect(reader).to_have_url(f"{base_url}/contact/{conversation.id}")
        await expect(reader.locator("ol.thread")).to_contain_text(ANSWER)
        await expect(reader.locator("ol.thread")).not_to_contain_text("客服小李")
        await shots(reader, "answer", language)
        await reader.goto(f"{base_url}/account")
        await expect(reader.locator("#conversations")).to_contain_text(words["answered"])
        await shots(reader, "account", language)
        await reader.close()
        await staff.close()
