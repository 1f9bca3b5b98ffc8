"""Content review in a browser, in Chinese and in English: a member posts a word that requires
approval and reads "awaiting review"; a moderator approves it in the review queue and the post
is shown; a member reports a reply, a moderator takes it down, and the reporter reads the
outcome in the inbox. Screenshots in var/screenshots/moderation/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect

from community.board.models import Post, Reply
from moderation import words
from settings import Settings
from tests.e2e.conftest import WatchedBrowser, photograph, sign_in_page
from tests.factories import PASSWORD, make_member, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "moderation"
WORDS = {
    "zh-CN": {"post": "发布", "approve": "通过", "take_down": "处理下架", "report": "举报",
              "awaiting": "等待审核", "taken": "已作处理"},
    "en-US": {"post": "Post", "approve": "Approve", "take_down": "Take it down",
              "report": "Report", "awaiting": "Awaiting review", "taken": "took it down"},
}  # fmt: skip


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_held_post_is_approved_and_a_report_is_answered(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    said = WORDS[locale]
    await words.add_words("require_approval", ["代开发票"], actor=None, now=datetime.now(UTC))
    writer = await make_member(email=f"writer-{locale}@example.cn", name="周同学")
    moderator = await make_user(email=f"mod-{locale}@example.cn", role="moderator")
    with running_server(settings) as base_url:
        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await sign_in_page(page, base_url, writer.email or "", PASSWORD)
        await page.goto(f"{base_url}/board/new")
        await page.fill("input[name=title]", "报销发票怎么开")
        await page.fill("textarea[name=body]", "有人可以代開發票吗？公司报销要用。")
        await page.locator("form button[type=submit]").last.click()
        banner = page.locator(".pending-review").first
        await expect(banner).to_contain_text(said["awaiting"])
        await photograph(page, SCREENSHOTS, "awaiting-review", locale)
        post = await Post.get(author_id=writer.id)
        assert post.pending_review
        await page.context.close()

        staff = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(staff, base_url, moderator.email or "", PASSWORD)
        await staff.goto(f"{base_url}/admin/review")
        item = staff.locator("article.review-item").first
        await expect(item.locator("mark")).to_have_text("代开发票")
        await photograph(staff, SCREENSHOTS, "review-queue", locale)
        await item.get_by_role("button", name=said["approve"], exact=True).click()
        await expect(staff.locator("#waiting-count")).to_have_text("0")
        assert not (await Post.get(id=post.id)).pending_review
        await staff.context.close()

        # A member reports a reply; the moderator takes it down; the reporter is told.
        replier = await make_member(email=f"replier-{locale}@example.cn", name="卖课的")
        reply = await Reply.create(
            post_id=post.id, author=replier, body="加我学开票", body_html="<p>加我学开票</p>\n"
        )
        reporter = await make_member(email=f"reporter-{locale}@example.cn", name="热心读者")
        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await sign_in_page(page, base_url, reporter.email or "", PASSWORD)
        await page.goto(f"{base_url}/board/posts/{post.id}#reply-{reply.id}")
        entry = page.locator(f"#reply-{reply.id} details.report-entry")
        await entry.locator("summary").click()
        await entry.locator("input[name=reason]").fill("拉人卖课的广告")
        await entry.get_by_role("button", name=said["report"], exact=True).click()
        await expect(page.locator(".flash")).to_be_visible()

        staff = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(staff, base_url, moderator.email or "", PASSWORD)
        await staff.goto(f"{base_url}/admin/reports")
        reported = staff.locator(f"#reported-reply-{reply.id}")
        await expect(reported).to_contain_text("拉人卖课的广告")
        await photograph(staff, SCREENSHOTS, "reports", locale)
        await reported.get_by_role("button", name=said["take_down"]).click()
        await expect(staff.locator(f"#reported-reply-{reply.id}")).to_have_count(0)
        assert (await Reply.get(id=reply.id)).hidden
        await staff.context.close()

        await page.goto(f"{base_url}/account/notifications")
        await expect(page.locator("main")).to_contain_text(said["taken"])
        await photograph(page, SCREENSHOTS, "reporter-inbox", locale)
        await page.context.close()


@pytest.mark.parametrize("locale", list(WORDS))
async def test_an_admin_keeps_the_lists_and_tests_a_sentence(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    admin = await make_user(email=f"lists-{locale}@example.cn", role="admin")
    await words.add_words("block", ["法轮"], actor=None, now=datetime.now(UTC))
    await words.add_words("censor", ["傻瓜"], actor=None, now=datetime.now(UTC))
    with running_server(settings) as base_url:
        page = await browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
        await sign_in_page(page, base_url, admin.email or "", PASSWORD)
        await page.goto(f"{base_url}/admin/watched-words")
        await page.fill("#test-text", "你这个傻.瓜，说法@輪")
        await page.locator("form.try-word button[type=submit]").click()
        await expect(page.locator("span.censored")).to_contain_text("■■■")
        await expect(page.locator("ul.matches li")).to_have_count(2)
        await photograph(page, SCREENSHOTS, "watched-words", locale)
        await page.context.close()
