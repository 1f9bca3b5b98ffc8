"""Browser journeys of "Finished journeys", in Chinese and in English: a signed-out buyer who
clicks buy comes back to the product after signing in, one click from buying; a reply of only
spaces is refused beside the form (htmx) without the page breaking or the text being lost."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from community.board import services as board
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from tests.e2e.conftest import WatchedBrowser
from tests.factories import PASSWORD, make_member, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e
LOCALES = {"zh-CN": {"required": "必填"}, "en-US": {"required": "is required"}}


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_buying_while_signed_out_comes_back_to_the_product(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    await make_user(email="buyer@example.cn")
    product = await store.create_product(
        title="书院帆布袋", description="", category="逼格工场", price_fen=9_900, stock=5
    )
    with running_server(settings) as base_url:
        page = await browser.new_page(locale=locale)
        await page.goto(f"{base_url}/store/products/{product.id}")
        await page.click(f"form[action='/store/products/{product.id}/buy'] button[type=submit]")
        await expect(page).to_have_url(
            f"{base_url}/account/login?next=/store/products/{product.id}"
        )
        await page.fill("input[name=email]", "buyer@example.cn")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("form[action='/account/login'] button[type=submit]")
        await expect(page).to_have_url(f"{base_url}/store/products/{product.id}")
        buy = page.locator(f"form[action='/store/products/{product.id}/buy'] button[type=submit]")
        await expect(buy).to_be_visible()  # the intended action, one click away
        await buy.click()
        await expect(page).to_have_url(re.compile(r".*/store/orders/\d+/pay$"))
        await page.close()


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_a_reply_of_only_spaces_is_refused_beside_the_form(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    author = await make_member(email="author@example.cn")

    post, _ = await board.create_post(
        author=author,
        category="knowledge",
        title="读书会",
        body="来聊聊。",
        counter=MemoryCounter(),
        now=datetime.now(UTC),
    )
    with running_server(settings) as base_url:
        page = await browser.new_page(locale=locale)
        await page.goto(f"{base_url}/account/login")
        await page.fill("input[name=email]", "author@example.cn")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("form[action='/account/login'] button[type=submit]")
        await page.goto(f"{base_url}/board/posts/{post.id}")
        await page.fill("#reply-form textarea[name=body]", "     ")
        await page.click("#reply-form button[type=submit]")
        error = page.locator("#reply-form [role=alert]")
        await expect(error).to_contain_text(LOCALES[locale]["required"])
        await expect(page.locator("header.site-header")).to_have_count(1)  # no page inside
        await expect(page.locator("#replies .reply")).to_have_count(0)
        # and a real reply still goes through the same form afterwards
        await page.fill("#reply-form textarea[name=body]", "我来了。")
        await page.click("#reply-form button[type=submit]")
        await expect(page.locator("#replies")).to_contain_text("我来了。")
        await page.close()
