"""Share links and attribution over HTTP, in their fixed shapes: a member shares a product, a
friend opens the link, signs up and buys; the referrer is credited once, a refund reverses in
proportion; self-referral and loops are refused; the last touch within the window counts;
OpenGraph tags of a members-only item hold none of its members-only text."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest

from accounts.models import User
from community.feed import editing
from payments import services as payments
from payments.models import Payment
from payments.provider import PaymentProvider
from referrals import attribution, ledger
from referrals.models import EntryKind, LedgerEntry, Referral, ReferredKind, ShareLink, Touch
from settings import Settings
from store import services as store
from tallies import flush
from tests.accounts.test_pages import register_form
from tests.factories import (
    SHIPPING,
    agree_abroad,
    bearer,
    make_member,
    make_user,
    paid_order,
    sign_in,
    token_for,
)

PRICE = 20_000


async def shared_product(client: httpx.AsyncClient, sharer: User) -> tuple[int, dict[str, str]]:
    product = await store.create_product(
        title="《思维的版图》",
        description="一本书。\n第二行",
        category="图书",
        price_fen=PRICE,
        stock=5,
    )
    admin = bearer(await token_for(await make_user(role="admin")))
    rule = await client.post(
        "/api/v1/admin/rewards",
        json={"applies_to": {"kind": "product", "id": product.id}, "kind": "percent", "value": 10},
        headers=admin,
    )
    assert rule.status_code == 201 and set(rule.json()) == {"id"}
    made = await client.post(
        "/api/v1/share-links",
        json={"object_type": "product", "object_id": product.id},
        headers=bearer(await token_for(sharer)),
    )
    assert made.status_code == 201
    return product.id, made.json()


async def test_a_share_link_has_its_fixed_shape_and_is_the_same_each_time(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    sharer = await make_member()
    product_id, made = await shared_product(client, sharer)
    assert set(made) == {"code", "url", "poster_url"}
    assert made["url"] == f"{settings.public_url}/s/{made['code']}"
    assert made["poster_url"].startswith(f"{settings.public_url}/s/{made['code']}/poster.png")
    again = await client.post(
        "/api/v1/share-links",
        json={"object_type": "product", "object_id": product_id},
        headers=bearer(await token_for(sharer)),
    )
    assert again.json()["code"] == made["code"]
    poster = await client.get(made["poster_url"].removeprefix(settings.public_url))
    assert poster.status_code == 200 and poster.content.startswith(b"\x89PNG")
    missing = await client.post(
        "/api/v1/share-links",
        json={"object_type": "post", "object_id": 999_999},
        headers=bearer(await token_for(sharer)),
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = await client.post(
        "/api/v1/share-links",
        json={"object_type": "coupon", "object_id": 1},
        headers=bearer(await token_for(sharer)),
    )
    assert wrong.status_code == 422
    anonymous = await client.post(
        "/api/v1/share-links", json={"object_type": "product", "object_id": product_id}
    )
    assert anonymous.status_code == 401


async def test_a_friend_opens_the_link_signs_up_and_buys_and_the_referrer_is_credited_once(
    client: httpx.AsyncClient,
    app: object,
    provider: PaymentProvider,
    settings: Settings,
) -> None:
    sharer = await make_member()
    product_id, made = await shared_product(client, sharer)
    opened = await client.get(f"/s/{made['code']}")
    assert opened.status_code == 302
    assert opened.headers["location"] == f"/store/products/{product_id}"
    assert attribution.COOKIE in opened.cookies
    await flush(app.state.memory.tally)  # type: ignore[attr-defined]

    assert (await register_form(client, email="friend@example.cn")).status_code == 303
    friend = await User.get(email="friend@example.cn")
    signup = await Referral.get(kind=ReferredKind.SIGNUP, subject_id=friend.id)
    assert (signup.referrer_id, signup.source) == (sharer.id, "link")
    touch = await Touch.get(user_id=friend.id)
    assert touch.referrer_id == sharer.id

    await agree_abroad(client)  # the checkout's box, before paying by card
    order = await paid_order(provider, settings, friend, product_id)
    payment = await Payment.get(id=order.payment_id)  # type: ignore[attr-defined]
    [credit] = await LedgerEntry.filter(referrer_id=sharer.id)
    assert (credit.kind, credit.amount_fen, credit.payment_id) == (
        EntryKind.CREDIT,
        PRICE // 10,
        payment.id,
    )
    paid = await Referral.get(kind=ReferredKind.ORDER, subject_id=order.id)
    assert (paid.referrer_id, paid.payment_id, paid.amount_fen) == (sharer.id, payment.id, PRICE)

    mine = await client.get("/api/v1/me/referrals", headers=bearer(await token_for(sharer)))
    assert mine.status_code == 200
    body = mine.json()
    [link] = body["links"]
    assert {k: link[k] for k in ("code", "url", "visits", "signups", "paid")} == {
        "code": made["code"],
        "url": made["url"],
        "visits": 1,
        "signups": 1,
        "paid": 1,
    }
    # Pending within the refund period: in the balance, not withdrawable.
    assert (body["balance_fen"], body["withdrawable_fen"]) == (PRICE // 10, 0)

    # A partial refund (a quarter) takes back a quarter of the reward; the rest, the rest.
    await payments.refund(
        provider=provider, payment_id=payment.id, amount_fen=PRICE // 4, now=datetime.now(UTC)
    )
    assert await ledger._sum(LedgerEntry.filter(payment_id=payment.id)) == PRICE // 10 * 3 // 4
    await payments.refund(provider=provider, payment_id=payment.id, now=datetime.now(UTC))
    assert await ledger._sum(LedgerEntry.filter(payment_id=payment.id)) == 0
    assert await LedgerEntry.filter(kind=EntryKind.CREDIT).count() == 1


async def test_a_refund_after_the_reward_became_withdrawable_still_reverses_it(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    sharer, buyer = await make_member(), await make_user()
    product_id, made = await shared_product(client, sharer)
    link = await ShareLink.get(code=made["code"])
    assert await attribution.touch(
        buyer.id, link, attribution.Source.POSTER, at=datetime.now(UTC), days=7
    )
    order = await paid_order(provider, settings, buyer, product_id)
    later = datetime.now(UTC) + timedelta(days=settings.refund_days, minutes=1)
    assert (await ledger.balance(sharer.id, now=later)).withdrawable_fen == PRICE // 10
    await payments.refund(
        provider=provider,
        payment_id=order.payment_id,
        amount_fen=PRICE // 2,
        now=later,  # type: ignore[attr-defined]
    )
    assert (await ledger.balance(sharer.id, now=later)).withdrawable_fen == PRICE // 20


async def test_ones_own_link_and_a_loop_are_refused(client: httpx.AsyncClient) -> None:
    a, b = await make_user(), await make_user()
    product = await store.create_product(
        title="书签", description="", category="文创", price_fen=1_000, stock=3
    )
    now = datetime.now(UTC)
    link_a = await ShareLink.create(
        code="aaaaaaaa", sharer_id=a.id, object_type="product", object_id=product.id, created_at=now
    )
    link_b = await ShareLink.create(
        code="bbbbbbbb", sharer_id=b.id, object_type="product", object_id=product.id, created_at=now
    )
    # One's own link names nobody, over HTTP too (and is not counted as a visit).
    assert not await attribution.touch(a.id, link_a, attribution.Source.LINK, at=now, days=7)
    await sign_in(client, a.email or "")
    assert (await client.get("/s/aaaaaaaa")).status_code == 302
    assert not await Touch.exists(user_id=a.id)
    # B came through A's link: A is B's referrer, so A may not become B's referral.
    assert await attribution.touch(b.id, link_a, attribution.Source.LINK, at=now, days=7)
    assert not await attribution.touch(a.id, link_b, attribution.Source.LINK, at=now, days=7)
    assert (await client.get("/s/bbbbbbbb")).status_code == 302
    assert not await Touch.exists(user_id=a.id)
    # Longer loops too: C came through B's; A through C's would close A -> B -> C -> A.
    c = await make_user()
    link_c = await ShareLink.create(
        code="cccccccc", sharer_id=c.id, object_type="product", object_id=product.id, created_at=now
    )
    assert await attribution.touch(c.id, link_b, attribution.Source.LINK, at=now, days=7)
    assert not await attribution.touch(a.id, link_c, attribution.Source.LINK, at=now, days=7)


async def test_the_last_touch_within_the_window_names_the_referrer() -> None:
    buyer, first, second = await make_user(), await make_user(), await make_user()
    product = await store.create_product(
        title="书签", description="", category="文创", price_fen=1_000, stock=3
    )
    now = datetime.now(UTC)
    links = [
        await ShareLink.create(
            code=f"link{n + 2}xyz",
            sharer_id=u.id,
            object_type="product",
            object_id=product.id,
            created_at=now,
        )
        for n, u in enumerate((first, second))
    ]
    assert await attribution.touch(buyer.id, links[0], attribution.Source.LINK, at=now, days=7)
    later = now + timedelta(hours=1)
    assert await attribution.touch(buyer.id, links[1], attribution.Source.LINK, at=later, days=7)
    # An older visit (a cookie read at sign-in) does not replace a later one.
    assert not await attribution.touch(buyer.id, links[0], attribution.Source.LINK, at=now, days=7)
    touch = await attribution.referrer_now(buyer.id, at=later, days=7)
    assert touch is not None and touch.referrer_id == second.id
    # Past the window, nobody.
    assert (
        await attribution.referrer_now(buyer.id, at=later + timedelta(days=7, seconds=1), days=7)
        is None
    )


async def test_a_forged_or_foreign_cookie_names_nobody(settings: Settings) -> None:
    now = datetime.now(UTC)
    assert attribution.read_cookie("not.a.cookie", settings.secret_key, days=7, now=now) is None
    link = ShareLink(code="abcdefgh")
    value = attribution.cookie_value(
        "another-secret-key-of-another-site", link, attribution.Source.LINK
    )
    assert attribution.read_cookie(value, settings.secret_key, days=7, now=now) is None
    good = attribution.cookie_value(settings.secret_key, link, attribution.Source.POSTER)
    read = attribution.read_cookie(good, settings.secret_key, days=7, now=now)
    assert read is not None and (read.code, read.source) == ("abcdefgh", attribution.Source.POSTER)


@pytest.mark.parametrize("reader", ["visitor", "member"])
async def test_opengraph_tags_of_a_members_only_item_hold_none_of_its_members_only_text(
    client: httpx.AsyncClient, reader: str
) -> None:
    secret = "只有会员才能读到的这一句话藏着答案"
    author = await make_user(role="admin")
    item = await editing.create_item(
        title="会员早知道",
        body=f"开头的几个字。\n\n{secret}。{secret}。{secret}。",
        keyword="早知道",
        members_only=True,
        teaser="一段公开的预告",
        publish_at=datetime.now(UTC) - timedelta(minutes=1),
        author=author,
        now=datetime.now(UTC),
    )
    if reader == "member":
        member = await make_member()
        await sign_in(client, member.email or "")
    page = await client.get(f"/feed/items/{item.id}")
    assert page.status_code == 200
    if reader == "member":
        assert secret in page.text  # the member reads it on the page itself
    tags = re.findall(
        r'<meta (?:property|name)="(?:og:[a-z]+|description)" content="([^"]*)"', page.text
    )
    assert tags and "会员早知道" in tags
    shown = unescape(" ".join(tags))
    assert "一段公开的预告" in shown
    assert secret not in shown and "开头的几个字" not in shown


async def test_a_members_only_item_with_a_short_body_shares_no_word_of_it(
    client: httpx.AsyncClient,
) -> None:
    author = await make_user(role="admin")
    item = await editing.create_item(
        title="今日问答",
        body="答案42",  # too short for a teaser cut from it
        keyword="问答",
        members_only=True,
        publish_at=datetime.now(UTC) - timedelta(minutes=1),
        author=author,
        now=datetime.now(UTC),
    )
    sharer = await make_member()
    made = await client.post(
        "/api/v1/share-links",
        json={"object_type": "feed_item", "object_id": item.id},
        headers=bearer(await token_for(sharer)),
    )
    await sign_in(client, sharer.email or "")
    page = await client.get(f"/share/{made.json()['code']}")
    assert page.status_code == 200 and "今日问答" in page.text
    assert "答案42" not in page.text


async def test_a_visit_after_the_payment_began_refers_nothing_of_it(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    sharer = await make_member()
    product_id, made = await shared_product(client, sharer)
    buyer = await make_user()
    link = await ShareLink.get(code=made["code"])
    order = await paid_order(provider, settings, buyer, product_id)
    # Touched only after paying: a later reconciliation of the same payment credits nobody.
    assert await attribution.touch(
        buyer.id, link, attribution.Source.LINK, at=datetime.now(UTC), days=7
    )
    payment = await Payment.get(id=order.payment_id)  # type: ignore[attr-defined]
    from referrals import rewards

    await rewards.paid(payment, ReferredKind.ORDER, False, datetime.now(UTC), 7, 7)
    assert not await Referral.exists(kind=ReferredKind.ORDER, subject_id=order.id)
    assert not await LedgerEntry.exists()


async def test_a_disputed_payments_reward_stays_pending_and_two_refunds_at_once_reverse_both(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    sharer, buyer = await make_member(), await make_user()
    product_id, made = await shared_product(client, sharer)
    link = await ShareLink.get(code=made["code"])
    assert await attribution.touch(
        buyer.id, link, attribution.Source.LINK, at=datetime.now(UTC) - timedelta(minutes=1), days=7
    )
    order = await paid_order(provider, settings, buyer, product_id)
    payment_id = order.payment_id  # type: ignore[attr-defined]
    later = datetime.now(UTC) + timedelta(days=settings.refund_days, minutes=1)
    assert (await ledger.balance(sharer.id, now=later)).withdrawable_fen == PRICE // 10
    await Payment.filter(id=payment_id).update(status="disputed")
    money = await ledger.balance(sharer.id, now=later)
    assert (money.withdrawable_fen, money.pending_fen) == (0, PRICE // 10)
    await Payment.filter(id=payment_id).update(status="succeeded")

    # Two partial refunds committed at the same moment: each reversal counts both refunds.
    await asyncio.gather(
        payments.refund(provider=provider, payment_id=payment_id, amount_fen=PRICE // 4,
                        now=datetime.now(UTC)),
        payments.refund(provider=provider, payment_id=payment_id, amount_fen=PRICE // 4,
                        now=datetime.now(UTC)),
    )  # fmt: skip
    assert await ledger._sum(LedgerEntry.filter(payment_id=payment_id)) == PRICE // 10 // 2


async def test_an_older_account_signing_in_after_a_visit_is_not_a_referred_sign_up(
    client: httpx.AsyncClient,
) -> None:
    sharer = await make_member()
    _product_id, made = await shared_product(client, sharer)
    older = await make_user()
    await User.filter(id=older.id).update(created_at=datetime.now(UTC) - timedelta(hours=1))
    await client.get(f"/s/{made['code']}")
    await sign_in(client, older.email or "")
    assert not await Referral.exists(kind=ReferredKind.SIGNUP)
    touch = await Touch.get(user_id=older.id)  # the visit still names the referrer
    assert touch.referrer_id == sharer.id


async def test_one_who_referred_a_purchase_may_not_take_its_buyer_as_referrer() -> None:
    a, b = await make_user(), await make_user()
    product = await store.create_product(
        title="书签", description="", category="文创", price_fen=1_000, stock=3
    )
    now = datetime.now(UTC)
    link_b = await ShareLink.create(
        code="bbbbbbbb", sharer_id=b.id, object_type="product", object_id=product.id, created_at=now
    )
    link_a = await ShareLink.create(
        code="aaaaaaaa", sharer_id=a.id, object_type="product", object_id=product.id, created_at=now
    )
    # A referred a purchase of B's long ago (B's touch has since expired).
    await attribution.record(
        ReferredKind.ORDER, 77, referred_id=b.id, link_id=link_a.id, referrer_id=a.id,
        source="link", at=now - timedelta(days=60),
    )  # fmt: skip
    assert not await attribution.touch(a.id, link_b, attribution.Source.LINK, at=now, days=7)


async def test_failed_repeated_and_refused_successes_credit_nothing_more(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    """The orders of events around one referred order: a declined card first (nothing), then
    a good one (one credit), the same success reported again (nothing more), and a second
    payment for the order already paid, refused and refunded (nothing)."""
    from payments.models import PaymentStatus
    from payments.purposes import Fulfilment, handlers_for
    from payments.settle import settle_succeeded
    from tests.factories import card_payment_method

    sharer, buyer = await make_member(), await make_user()
    product_id, made = await shared_product(client, sharer)
    link = await ShareLink.get(code=made["code"])
    assert await attribution.touch(
        buyer.id, link, attribution.Source.LINK, at=datetime.now(UTC) - timedelta(minutes=1), days=7
    )
    headers = bearer(await token_for(buyer))
    created = await client.post(
        "/api/v1/orders", json={"items": [{"product_id": product_id, "quantity": 1}]},
        headers=headers,
    )  # fmt: skip
    order_id = created.json()["id"]
    declined = await client.post(
        f"/api/v1/orders/{order_id}/payment",
        json={"payment_method": await card_payment_method(settings, "4000000000000341"),
              "shipping": SHIPPING},
        headers=headers,
    )  # fmt: skip
    assert declined.json()["status"] != "paid"
    assert not await LedgerEntry.exists() and not await Referral.exists(kind=ReferredKind.ORDER)
    paid = await client.post(
        f"/api/v1/orders/{order_id}/payment",
        json={"payment_method": "pm_card_visa", "shipping": SHIPPING},
        headers=headers,
    )
    assert paid.json()["status"] == "paid"
    assert await LedgerEntry.filter(kind=EntryKind.CREDIT).count() == 1
    payment = await Payment.get(subject_id=str(order_id), status=PaymentStatus.SUCCEEDED)
    intent = await provider.retrieve_intent(payment.provider_intent_id or "")
    assert not await settle_succeeded(provider, payment.id, intent, now=datetime.now(UTC))
    assert await LedgerEntry.filter(kind=EntryKind.CREDIT).count() == 1
    # Another payment's success for the order already paid: refused (refunded in full).
    other = await Payment.create(
        user_id=buyer.id, purpose="order", subject_id=str(order_id), amount_fen=PRICE,
        status=PaymentStatus.SUCCEEDED, succeeded_at=datetime.now(UTC),
    )  # fmt: skip
    answer = await handlers_for("order").fulfil(other, datetime.now(UTC))
    assert answer == Fulfilment.REFUSED
    assert await LedgerEntry.filter(kind=EntryKind.CREDIT).count() == 1
    assert await Referral.filter(kind=ReferredKind.ORDER).count() == 1
