"""Browser journeys of "Finished journeys", in Chinese and in English: a signed-out buyer who
clicks buy comes back to the product after signing in, one click from buying; a reply of only
spaces is refused beside the form (htmx) without the page breaking or the text being lost."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from community.board import services as board
from community.feed import editing as feed_editing
from community.feed.audio import check_audio, silent_mp3
from membership import services as membership
from payments.services import PaymentChoice, make_provider
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from tests.e2e.conftest import WatchedBrowser
from tests.factories import (
    PASSWORD,
    address,
    card_payment_method,
    make_member,
    make_user,
    make_window,
)
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


WORDS = {
    "zh-CN": {
        "place": "你是候补名单上的第 1 位",
        "listen": "会员可以收听这段语音",
        "refund": "申请退款",
        "asked": "你已于",
        "receipt": "收据",
    },
    "en-US": {
        "place": "You are number 1 on the waitlist",
        "listen": "Members can listen to this voice message",
        "refund": "Ask for a refund",
        "asked": "You asked for a refund",
        "receipt": "Receipt",
    },
}


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_member_and_a_shopper_walk_the_finished_journeys(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    """In one browser, in one language: the language switch keeps the page and its query,
    the waitlist says where one stands, a members-only voice says who can listen, deleting a
    post asks first (no script needed), a paid order has a receipt and a refund request."""

    words = WORDS[locale]
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=1)
    holder = await make_user()
    await membership.enroll(window_id=window.id, user=holder, now=now)
    me = await make_member(email="me@example.cn", days=200)
    buyer = await make_user(email="shopper@example.cn")
    await membership.join_waitlist(window_id=window.id, user=buyer, now=now)

    audio = check_audio(silent_mp3(60))
    item = await feed_editing.create_item(
        title="会员语音",
        body="正文",
        keyword="会员语音",
        members_only=True,
        audio=audio,
        now=now,
    )
    post, _ = await board.create_post(
        author=me,
        category="knowledge",
        title="要删的帖子",
        body="正文",
        counter=MemoryCounter(),
        now=now,
    )
    product = await store.create_product(
        title="书院帆布袋", description="", category="逼格工场", price_fen=9_900, stock=5
    )
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=now,
        counter=MemoryCounter(),
        shipping=address(),
    )
    with running_server(settings) as base_url:
        provider = make_provider(
            api_base=settings.stripe_api_base,
            secret_key=settings.stripe_secret_key,
            webhook_secret=settings.stripe_webhook_secret,
        )
        await store.pay_order(
            provider=provider,
            order_id=order.id,
            user=buyer,
            choice=PaymentChoice(
                payment_method=await card_payment_method(settings, "4242424242424242")
            ),
            now=now,
        )
        await provider.aclose()
        shopper = await browser.new_page(locale=locale)
        await shopper.goto(f"{base_url}/account/login")
        await shopper.fill("input[name=email]", "shopper@example.cn")
        await shopper.fill("input[name=password]", PASSWORD)
        await shopper.click("form[action='/account/login'] button[type=submit]")

        await shopper.goto(f"{base_url}/board?q=读书")
        other = "en" if locale.startswith("zh") else "zh_CN"
        await shopper.click(f"footer a[href^='/lang/{other}']")
        await expect(shopper).to_have_url(re.compile(r".*\?q=(%E8%AF%BB%E4%B9%A6|读书)$"))
        await shopper.click(f"footer a[href^='/lang/{'zh_CN' if other == 'en' else 'en'}']")

        await shopper.goto(f"{base_url}/membership")
        await expect(shopper.locator("[data-waitlist-place]")).to_contain_text(words["place"])
        await shopper.goto(f"{base_url}/feed/items/{item.id}")
        await expect(shopper.locator(".audio-locked")).to_contain_text(words["listen"])
        await expect(shopper.locator("audio")).to_have_count(0)

        await shopper.goto(f"{base_url}/store/orders/{order.id}")
        await shopper.click(f"a[href='/store/orders/{order.id}/receipt']")
        await expect(shopper.locator("h1")).to_contain_text(words["receipt"])
        await shopper.goto(f"{base_url}/store/orders/{order.id}")
        await shopper.click("details.refund-ask summary")
        await shopper.fill("details.refund-ask textarea[name=reason]", "尺寸不合适")
        await shopper.click("details.refund-ask button[type=submit]")
        await expect(shopper.locator("[data-refund=requested]")).to_contain_text(words["asked"])
        await shopper.close()

        author = await browser.new_page(locale=locale)
        await author.goto(f"{base_url}/account/login")
        await author.fill("input[name=email]", "me@example.cn")
        await author.fill("input[name=password]", PASSWORD)
        await author.click("form[action='/account/login'] button[type=submit]")
        await author.goto(f"{base_url}/board/posts/{post.id}")
        yes = author.locator("details.confirm button.danger")
        await expect(yes).to_be_hidden()  # asked first
        await author.click("details.confirm summary")
        await yes.click()
        await expect(author).to_have_url(re.compile(r".*/board$"))
        await author.close()
