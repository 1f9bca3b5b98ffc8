"""The browser journey of growth through friends, against `shuyuan serve`, in Chinese and in
English: a member shares a product (the share page: the short link and its poster); a friend
in a second browser, a phone, opens the link, signs up and buys it by card; the member's page
shows the visit, the sign-up, the purchase and the pending reward, and the console's referral
page the same through its funnel. Screenshots (poster included) in var/screenshots/referrals/."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from referrals import reward_rules
from referrals.models import Referral, ReferredKind
from settings import Settings
from store import services as store
from tests.e2e.conftest import (
    WatchedBrowser,
    fill_shipping,
    pay_by_card,
    photograph,
    sign_in_page,
)
from tests.factories import PASSWORD, make_member, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "referrals"
WORDS = {
    "zh-CN": {
        "share": "分享",
        "buy": "立即购买",
        "register": "注册",
        "paid": "已支付",
        "pending": "处理中",
    },
    "en-US": {
        "share": "Share",
        "buy": "Buy now",
        "register": "Create account",
        "paid": "Paid",
        "pending": "Pending",
    },
}
PRICE = 12_800  # a 10% reward: 12.80


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_member_shares_a_friend_signs_up_and_buys_and_the_member_sees_the_reward(
    browser: WatchedBrowser, settings: Settings, locale: str
) -> None:
    words = WORDS[locale]
    email = f"zhou-share-{locale}@example.cn"
    sharer = await make_member(email=email, name="周同学")
    admin = await make_user(email=f"admin-share-{locale}@example.cn", role="admin")
    product = await store.create_product(
        title="《饥饿的盛世》精装本",
        description="乾隆时代的得与失。",
        category="图书",
        price_fen=PRICE,
        stock=5,
    )
    await reward_rules.set_rule(
        applies_kind="product",
        applies_id=product.id,
        kind="percent",
        value=10,
        actor=admin,
        now=datetime.now(UTC),
    )
    with running_server(settings) as base_url:
        # The member shares the product from its page.
        mine = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(mine, base_url, email, PASSWORD)
        await mine.goto(f"{base_url}/store/products/{product.id}")
        await mine.get_by_role("button", name=words["share"], exact=True).click()
        await expect(mine).to_have_url(re.compile(rf"^{re.escape(base_url)}/share/[a-z0-9]+$"))
        short = await mine.locator("#share-link").input_value()
        assert re.fullmatch(rf"{re.escape(base_url)}/s/[a-z0-9]{{8}}", short)
        poster = mine.locator(".poster img")
        await expect(poster).to_be_visible()
        # Drawn on its first request (tens of milliseconds), then kept: wait for it to load.
        assert await poster.evaluate("img => img.decode().then(() => img.naturalWidth)") == 750
        await photograph(mine, SCREENSHOTS, "share-page", locale)
        language = "zh" if locale == "zh-CN" else "en"
        async with httpx.AsyncClient() as http:
            png = await http.get(f"{short}/poster.png", params={"lang": language})
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"poster-{locale}.png").write_bytes(png.content)
        # Nothing on the shared page or the poster's page mentions a reward.
        assert not re.search("奖励|返利|佣金|reward|commission", await mine.content(), re.I)

        # A friend, in another browser (a phone), opens the link, signs up and buys.
        friend_context = await browser.new_context(
            locale=locale, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        friend = await friend_context.new_page()
        await friend.goto(short)
        await expect(friend).to_have_url(f"{base_url}/store/products/{product.id}")
        await photograph(friend, SCREENSHOTS, "opened-link", locale)
        await friend.goto(f"{base_url}/account/register")
        friend_email = f"wu-friend-{locale}@example.cn"
        await friend.fill("input[name=email]", friend_email)
        await friend.fill("input[name=display_name]", "吴同学")
        await friend.fill("input[name=password]", PASSWORD)
        await friend.click("form[action='/account/register'] button[type=submit]")
        await expect(friend).to_have_url(f"{base_url}/")
        await friend.goto(f"{base_url}/store/products/{product.id}")
        await friend.get_by_role("button", name=words["buy"]).click()
        await expect(friend).to_have_url(re.compile(r".*/store/orders/[0-9]+/pay$"))
        await fill_shipping(friend, name="吴同学", phone="13812345678")
        await pay_by_card(friend, agree_abroad=True)
        await expect(friend).to_have_url(re.compile(r".*/store/orders/[0-9]+$"), timeout=20_000)
        await expect(friend.locator("#order-status")).to_have_text(words["paid"])
        await friend_context.close()

        signup = await Referral.get(kind=ReferredKind.SIGNUP, referrer_id=sharer.id)
        assert signup.source == "link"
        assert await Referral.exists(kind=ReferredKind.ORDER, referrer_id=sharer.id)

        # The member sees the visit (counted within seconds), the sign-up, the purchase and
        # the reward, pending within the refund period.
        await mine.goto(f"{base_url}/account/referrals")
        row = mine.locator("table.referral-links tbody tr").first
        for _ in range(20):
            if (await row.locator("[data-visits]").inner_text()).strip() == "1":
                break
            await mine.wait_for_timeout(500)
            await mine.reload()
        await expect(row.locator("[data-visits]")).to_have_text("1")
        await expect(row.locator("[data-signups]")).to_have_text("1")
        await expect(row.locator("[data-paid]")).to_have_text("1")
        await expect(mine.locator("[data-pending]")).to_have_attribute(
            "data-pending", str(PRICE // 10)
        )
        await expect(mine.locator(".referral-money")).to_contain_text("12.80")
        await expect(mine.locator(".referral-money")).to_contain_text(words["pending"])
        await photograph(mine, SCREENSHOTS, "my-referrals", locale)
        await mine.context.close()

        # The console: the rule, and the funnel per source and per referrer.
        console = await browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        await sign_in_page(console, base_url, admin.email or "", PASSWORD)
        await console.goto(f"{base_url}/admin/referrals")
        link_row = console.locator("table.funnel-sources tr[data-source=link] td")
        await expect(link_row.nth(1)).to_have_text("1")
        await expect(link_row.nth(2)).to_have_text("1")
        await expect(link_row.nth(3)).to_have_text("1")
        referrer = console.locator(f"table.funnel-referrers tr[data-referrer='{sharer.id}']")
        await expect(referrer).to_contain_text("12.80")
        await photograph(console, SCREENSHOTS, "console-referrals", locale)
        await console.context.close()
