"""Browser journey: a member types a word into the keyword box that nothing answers; an admin
finds it on the page of what members wanted, turns it into an auto-reply with its button (a
product and a text), tries a word, and the member's next lookup of it answers with the product.
Photographed at 390 and 1280 px (var/screenshots/keywords/), in Chinese, then in English on a
second run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from keywords.models import AutoReply, AutoReplyKeyword
from settings import Settings
from store import services as store
from tests.e2e.conftest import WatchedBrowser, photograph, sign_in_page
from tests.factories import PASSWORD, make_member, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "keywords"
WORDS = {
    "zh": {
        "go": "查找",
        "nothing": "没有这个关键词",
        "make": "设为规则：“女裝”",
        "save": "保存自动回复",
        "saved": "自动回复已保存。",
        "answered": "现在已有回复",
        "try": "试查",
        "sold": "在售",
    },
    "en": {
        "go": "Go",
        "nothing": "No such keyword",
        "make": "Make a rule for “女裝”",
        "save": "Save the auto-reply",
        "saved": "The auto-reply was saved.",
        "answered": "Answered now",
        "try": "Try",
        "sold": "On sale now",
    },
}


async def shots(page: Page, name: str, language: str) -> None:
    await photograph(page, SCREENSHOTS, name, language)


async def look_up(page: Page, word: str) -> None:
    """Type `word` into the keyword box under the header, as a member does."""
    await page.fill("form.keyword-box input[name=keyword]", word)
    await page.click("form.keyword-box button")
    await page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_an_admin_turns_a_word_nobody_found_into_an_auto_reply_that_answers_it(
    browser: WatchedBrowser, settings: Settings, language: str
) -> None:
    words = WORDS[language]
    admin = await make_user(admin=True, name="运营小周")
    member = await make_member(name="王小明")
    dress = await store.create_product(
        title="真丝连衣裙", description="", category="女装", price_fen=29_900, stock=20
    )
    locale = "zh-CN" if language == "zh" else "en-US"
    with running_server(settings) as base_url:
        reader = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(reader, base_url, member.email, PASSWORD)
        await look_up(reader, "女裝")
        await expect(reader.locator("main h1")).to_have_text(words["nothing"])
        await shots(reader, "miss", language)

        console = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(console, base_url, admin.email, PASSWORD)
        await console.goto(f"{base_url}/admin/keywords/misses")
        row = console.locator("table.misses tr", has_text="女裝")
        await expect(row).to_contain_text("1")
        await shots(console, "misses", language)
        await row.get_by_role("button", name=words["make"]).click()
        await expect(console).to_have_url(re.compile(r"/admin/keywords/new\?keyword="))
        await expect(console.locator("input[name=keyword-0]")).to_have_value("女裝")
        await console.select_option("select[name=match-0]", "contain")
        await console.select_option("select[name=reply-0]", f"product:{dress.id}")
        await console.fill("textarea[name=reply-1-text]", "春季女装上新，满 299 包邮。")
        await shots(console, "form", language)
        await console.get_by_role("button", name=words["save"]).click()

        rule = await AutoReply.get()
        await expect(console).to_have_url(f"{base_url}/admin/keywords#rule-{rule.id}")
        await expect(console.locator(".flash-success")).to_have_text(words["saved"])
        assert [(k.key, k.match) for k in await AutoReplyKeyword.all()] == [("女装", "contain")]
        await console.fill("form.try-word input[name=word]", "我想买 女装")
        await console.get_by_role("button", name=words["try"], exact=True).click()
        await expect(console.locator("section.tried")).to_contain_text("真丝连衣裙")
        await shots(console, "rules", language)

        await look_up(reader, "我想买 女裝")
        answer = reader.locator(".keyword-replies")
        await expect(answer.locator(".answer-product")).to_contain_text("真丝连衣裙")
        await expect(answer.locator(".answer-product")).to_contain_text("¥299.00")
        await expect(answer.locator(".answer-product")).to_contain_text(words["sold"])
        await expect(answer.locator(".answer-text")).to_contain_text("满 299 包邮")
        await shots(reader, "answer", language)
        await answer.locator(".answer-product").click()
        await expect(reader).to_have_url(f"{base_url}/store/products/{dress.id}")

        await console.goto(f"{base_url}/admin/keywords/misses")
        await expect(console.locator("table.misses tr", has_text="女裝")).to_contain_text(
            words["answered"]
        )
        await reader.close()
        await console.close()
