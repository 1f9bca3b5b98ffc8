"""Browser journey on the board: post, reply with htmx, like, and the author's notification."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from settings import Settings
from tests.e2e.conftest import WatchedBrowser, sign_in_page
from tests.factories import PASSWORD, make_member
from tests.live import running_server

pytestmark = pytest.mark.e2e


async def test_post_reply_with_htmx_like_and_the_author_is_notified(
    browser: WatchedBrowser, settings: Settings
) -> None:
    await make_member(email="author@example.cn", name="罗胖")
    await make_member(email="reader@example.cn", name="小雨")
    with running_server(settings) as base_url:
        author = await browser.new_page(locale="zh-CN")
        await sign_in_page(author, base_url, "author@example.cn", PASSWORD)
        await author.goto(f"{base_url}/board/new")
        await author.select_option("select[name=category]", "knowledge")
        await author.fill("input[name=title]", "怎样做读书笔记")
        await author.fill("textarea[name=body]", "我的方法：**先读目录**。欢迎 @小雨 补充。")
        await author.click("form[action='/board/posts'] button[type=submit]")
        await expect(author.locator("h1")).to_have_text("怎样做读书笔记")
        post_url = author.url

        reader = await browser.new_page(locale="zh-CN")
        await sign_in_page(reader, base_url, "reader@example.cn", PASSWORD)
        await reader.goto(post_url)
        await expect(reader.locator(".prose strong").first).to_have_text("先读目录")
        loads: list[str] = []
        reader.on("load", lambda _: loads.append("load"))
        await reader.fill("#reply-form textarea[name=body]", "我先画思维导图，再写摘要。")
        await reader.click("#reply-form button[type=submit]")
        await expect(reader.locator("#replies")).to_contain_text("我先画思维导图")
        await expect(reader.locator("#reply-form textarea[name=body]")).to_have_value("")
        await reader.click("form.like button")
        await expect(reader.locator("form.like .like-count")).to_have_text("1")
        assert loads == []  # reply and like happened without a page load (htmx)
        await reader.reload()
        await expect(reader.locator("#replies .reply")).to_have_count(1)
        await expect(reader.locator("form.like .like-count")).to_have_text("1")

        await author.goto(f"{base_url}/account/notifications")
        await expect(author.locator("main")).to_contain_text("小雨 回复了你的帖子“怎样做读书笔记”")
        await reader.goto(f"{base_url}/account/notifications")
        await expect(reader.locator("main")).to_contain_text("罗胖 在“怎样做读书笔记”中提到了你")
        await author.close()
        await reader.close()
