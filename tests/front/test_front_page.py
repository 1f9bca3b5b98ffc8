"""The front page is today's: the morning's voice, the store's new and hottest, the window, the
next drop, the board's liveliest threads, and a signed-in reader's own state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from accounts import notices
from accounts.models import User
from community.board import moderation as board_moderation
from community.board import replies
from community.board import services as board
from community.feed import editing as feed_editing
from community.feed.audio import check_audio, silent_mp3
from front.routes import greeting
from ratelimit import MemoryCounter
from store import services as store
from store.models import Order
from tests.factories import make_member, make_user, make_window, sign_in


async def a_day_on_shuyuan(now: datetime) -> dict[str, object]:
    admin = await make_user(admin=True)
    voice = await feed_editing.create_item(
        title="认知升级的第一天",
        body="今天我们聊聊**终身学习**。" * 5,
        keyword="早安",
        members_only=True,
        teaser="终身学习的三个方法。",
        author=admin,
        now=now - timedelta(minutes=5),
    )
    book = await store.create_product(
        title="时间的朋友", description="", category="书", price_fen=6_800, stock=50
    )
    drop = await store.create_product(
        title="限量帆布袋",
        description="",
        category="周边",
        price_fen=9_900,
        stock=100,
        sale_starts_at=now + timedelta(hours=2),
    )
    window = await make_window(now=now, seats=200, name="2027 年度会员")
    return {"voice": voice, "book": book, "drop": drop, "window": window}


async def test_a_visitor_sees_today_not_a_brochure(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    day = await a_day_on_shuyuan(now)
    page = await client.get("/", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    html = page.text
    assert "认知升级的第一天" in html and "终身学习的三个方法。" in html  # the teaser, locked
    assert "今天我们聊聊" not in html
    assert "<audio" not in html
    assert "本周上新" in html and "时间的朋友" in html and "最热" in html
    assert f'href="/store/products/{day["book"].id}"' in html  # type: ignore[attr-defined]
    assert "2027 年度会员" in html and "剩余 200 个席位" in html
    assert "限量帆布袋" in html
    assert html.count('class="countdown"') == 2  # the window's close and the drop's sale
    assert 'href="/account/login?next=/board"' in html
    assert '<meta property="og:url" content="http://testserver/">' in html


async def test_a_member_sees_their_own_day(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    day = await a_day_on_shuyuan(now)
    member = await make_member(name="林夕", days=30)
    held = await store.place_order(
        buyer=member,
        items=[store.Wanted(product_id=day["book"].id, quantity=1)],  # type: ignore[attr-defined]
        now=now,
        counter=MemoryCounter(),
    )
    await notices.notify(member.id, kind="welcome", params={"name": "林夕"})
    post, _ = await board.create_post(
        author=member,
        category="knowledge",
        title="读书会招募",
        body="每周三晚上。",
        counter=MemoryCounter(),
        now=now,
    )
    await replies.reply(post.id, author=member, body="我来。", counter=MemoryCounter(), now=now)
    await sign_in(client, member.email)
    html = (await client.get("/", headers={"Accept-Language": "zh-CN"})).text
    assert "林夕" in html
    assert "欢迎回来" not in html  # a greeting of the hour, right after registering too
    assert "会员有效期至" in html
    assert "未读通知：1" in html
    assert f'href="/store/orders/{held.id}/pay"' in html
    assert "今天我们聊聊" in html  # today's voice in full for a member
    assert f'href="/board/posts/{post.id}"' in html and "读书会招募" in html


async def test_only_the_readers_own_live_hold_is_waiting_to_be_paid(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    day = await a_day_on_shuyuan(now)
    buyer, other = await make_user(name="买家"), await make_user(name="旁人")

    async def hold(person: User) -> Order:
        return await store.place_order(
            buyer=person,
            items=[store.Wanted(product_id=day["book"].id, quantity=1)],  # type: ignore[attr-defined]
            now=now,
            counter=MemoryCounter(),
        )

    older, newer, others = await hold(buyer), await hold(buyer), await hold(other)
    await sign_in(client, buyer.email)
    html = (await client.get("/", headers={"Accept-Language": "en"})).text
    assert f'href="/store/orders/{newer.id}/pay"' in html  # the newest of the buyer's holds
    assert f"/store/orders/{older.id}/pay" not in html
    assert f"/store/orders/{others.id}/pay" not in html
    # A hold that ran out is not waiting any more (the job releases it later).
    await Order.filter(user_id=buyer.id).update(hold_expires_at=now - timedelta(seconds=1))
    html = (await client.get("/", headers={"Accept-Language": "en"})).text
    assert "waiting to be paid" not in html


async def test_a_signed_in_non_member_is_offered_membership(client: httpx.AsyncClient) -> None:
    await a_day_on_shuyuan(datetime.now(UTC))
    reader = await make_user(name="阿青")
    await sign_in(client, reader.email)
    html = (await client.get("/", headers={"Accept-Language": "en"})).text
    assert "Not a member yet" in html
    assert "Welcome back" not in html


async def test_an_empty_site_has_a_front_page_too(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Nothing published yet" in page.text
    assert "No drop is coming yet." in page.text
    assert "Enrollment is closed for now" in page.text


def test_the_greeting_follows_the_hour_in_shanghai() -> None:
    def at(hour: int) -> datetime:  # an hour in Shanghai, as UTC
        return datetime(2026, 12, 6, hour, 0, tzinfo=UTC) - timedelta(hours=8)

    assert greeting(at(7)) == "Good morning, %(name)s."
    assert greeting(at(14)) == "Good afternoon, %(name)s."
    assert greeting(at(22)) == "Good evening, %(name)s."
    assert greeting(at(2)) == "Good evening, %(name)s."


async def test_products_drops_and_feed_items_carry_link_previews(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    day = await a_day_on_shuyuan(now)
    drop = (await client.get(f"/store/products/{day['drop'].id}")).text  # type: ignore[attr-defined]
    assert '<meta property="og:title" content="限量帆布袋">' in drop
    assert '<meta name="description" content="¥99.00 · 周边">' in drop
    cover = f"http://testserver/store/products/{day['drop'].id}/cover-large.png"  # type: ignore[attr-defined]
    assert f'<meta property="og:image" content="{cover}">' in drop
    assert '<meta property="product:availability" content="preorder">' in drop
    item = (await client.get(f"/feed/items/{day['voice'].id}")).text  # type: ignore[attr-defined]
    assert '<meta property="og:description" content="终身学习的三个方法。">' in item  # teaser only


async def test_the_shared_parts_are_rendered_for_each_language_and_kind_of_reader(
    client: httpx.AsyncClient,
) -> None:
    # A visitor and a signed-in reader share the front page's parts (the same access), which
    # are rendered once and kept: each must still see their own language and their own way in.
    now = datetime.now(UTC)
    await a_day_on_shuyuan(now)
    await feed_editing.create_item(
        title="晨间六十秒",
        body="今天的语音。",
        keyword="晨间",
        members_only=True,
        audio=check_audio(silent_mp3(60)),
        now=now,
    )
    visitor_zh = (await client.get("/", headers={"Accept-Language": "zh-CN"})).text
    visitor_en = (await client.get("/", headers={"Accept-Language": "en"})).text
    assert "本周上新" in visitor_zh and "New this week" in visitor_en
    assert "New this week" not in visitor_zh
    locked_sign_in = 'href="/account/login?next=/">'
    assert locked_sign_in in visitor_en  # the locked voice: sign in, then come back here
    reader = await make_user(name="阿青")
    await sign_in(client, reader.email)
    signed_in = (await client.get("/", headers={"Accept-Language": "en"})).text
    assert "New this week" in signed_in
    assert locked_sign_in not in signed_in  # signed in: only "Become a member"
    assert "Become a member" in signed_in


async def test_a_post_taken_down_leaves_the_liveliest_threads_at_once(
    client: httpx.AsyncClient,
) -> None:
    # The liveliest threads are kept a few seconds for every reader alike; a post deleted,
    # hidden or rejected is gone from them on the next page (changes.BOARD), not seconds later.
    now = datetime.now(UTC)
    member = await make_member(name="林夕", days=30)
    moderator = await make_user(admin=True)
    titles = []
    for title in ("读书会招募", "周末徒步", "求职互助"):
        post, _ = await board.create_post(
            author=member, category="knowledge", title=title, body="正文。",
            counter=MemoryCounter(), now=now,
        )  # fmt: skip
        await replies.reply(post.id, author=member, body="顶。", counter=MemoryCounter(), now=now)
        titles.append((post, title))
    await sign_in(client, member.email)
    html = (await client.get("/")).text
    assert all(title in html for _, title in titles)
    (deleted, deleted_title), (hidden, hidden_title), (_, kept_title) = titles
    await board.delete_post(deleted.id, user=member, now=now)
    await board_moderation.moderate(hidden.id, "hide", actor=moderator, now=now)
    html = (await client.get("/")).text
    assert deleted_title not in html and hidden_title not in html
    assert kept_title in html
    await board_moderation.moderate(hidden.id, "unhide", actor=moderator, now=now)
    assert hidden_title in (await client.get("/")).text  # shown again at once too
