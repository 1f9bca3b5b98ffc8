"""Journeys a new person walks (issue "Finished journeys"), over the real app: signing in from
a buy button comes back to the product, a reply of only spaces is refused beside the form, the
language switch keeps the page and its query, the nav marks the section, each empty list says
what is missing, the waitlist says where one stands, the site has an icon."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from starlette.applications import Starlette

from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from tests.factories import (
    address,
    bearer,
    csrf_from,
    make_member,
    make_user,
    make_window,
    paid_order,
    sign_in,
    token_for,
)


async def test_signing_in_from_a_buy_button_comes_back_to_the_product_page(
    client: httpx.AsyncClient,
) -> None:
    product = await store.create_product(
        title="书院帆布袋", description="", category="逼格工场", price_fen=9_900, stock=5
    )
    page = f"http://testserver/store/products/{product.id}"
    anonymous = await client.post(
        f"/store/products/{product.id}/buy", data={"quantity": "1"}, headers={"Referer": page}
    )
    assert anonymous.status_code == 303
    location = urlsplit(anonymous.headers["location"])
    assert location.path == "/account/login"
    [back] = parse_qs(location.query)["next"]
    assert back == f"/store/products/{product.id}"  # a page, never the POST-only /buy
    await make_user(email="buyer@example.cn")
    signed_in = await sign_in(client, "buyer@example.cn", next_url=back)
    assert signed_in.headers["location"] == back
    assert (await client.get(back)).status_code == 200

    # A page that needs signing in keeps its query too.
    account = await client.get("/account")
    await client.post("/account/logout", data={"csrf_token": csrf_from(account.text)})
    board = await client.get("/board?q=读书", follow_redirects=False)
    [back] = parse_qs(urlsplit(board.headers["location"]).query)["next"]
    assert unquote(back) == "/board?q=读书"


async def test_a_reply_of_only_spaces_is_refused_beside_the_form_with_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    author = await make_member(email="author@example.cn")
    post = await client.post(
        "/api/v1/board/posts",
        json={"category": "knowledge", "title": "读书会", "body": "来聊聊。"},
        headers=bearer(await token_for(author)),
    )
    await sign_in(client, "author@example.cn")
    page = await client.get(f"/board/posts/{post.json()['id']}")
    refused = await client.post(
        f"/board/posts/{post.json()['id']}/replies",
        data={"body": "   \n  ", "csrf_token": csrf_from(page.text), "submission": "s1"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 422
    assert refused.headers["HX-Retarget"] == "#reply-form"
    assert refused.headers["HX-Reswap"] == "outerHTML"
    assert 'id="reply-form"' in refused.text and 'role="alert"' in refused.text
    assert "<header" not in refused.text and "<nav" not in refused.text


async def test_the_language_switch_keeps_the_page_and_its_query(client: httpx.AsyncClient) -> None:
    await make_member(email="reader@example.cn")
    await sign_in(client, "reader@example.cn")
    board = await client.get("/board?q=读书")
    [link] = re.findall(r'href="(/lang/en\?next=[^"]+)"', board.text)
    switched = await client.get(html.unescape(link))
    assert switched.status_code == 303
    assert unquote(switched.headers["location"]) == "/board?q=读书"
    again = await client.get(switched.headers["location"])
    assert 'value="读书"' in again.text and 'lang="en"' in again.text


async def test_the_nav_marks_the_current_section_and_empty_lists_say_what_is_missing(
    client: httpx.AsyncClient,
) -> None:
    await make_member(email="reader@example.cn")
    await sign_in(client, "reader@example.cn")
    board = await client.get("/board?q=无此内容", headers={"Accept-Language": "en"})
    assert '<a href="/board" aria-current="page">' in board.text
    assert '<a href="/store" aria-current="page">' not in board.text
    assert "No posts match “无此内容”." in board.text
    store_page = await client.get("/store")
    assert '<a href="/store" aria-current="page">' in store_page.text
    assert "这里还没有在售的商品。" in store_page.text  # not the board's words
    assert "这里还没有商品" not in board.text


async def test_the_waitlist_says_where_one_stands(client: httpx.AsyncClient) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    holder, waiting = await make_user(), await make_user(email="waiting@example.cn")
    await client.post(
        f"/api/v1/enrollment-windows/{window.id}/enrollments",
        headers=bearer(await token_for(holder)),
    )
    joined = await client.post(
        f"/api/v1/enrollment-windows/{window.id}/waitlist",
        headers=bearer(await token_for(waiting)),
    )
    assert joined.json() == {"position": 1}
    await sign_in(client, "waiting@example.cn")
    page = await client.get("/membership")
    assert 'data-waitlist-place="1"' in page.text
    assert "你是候补名单上的第 1 位" in page.text
    assert "加入候补名单" not in page.text


async def test_the_site_has_a_favicon_and_touch_icons(client: httpx.AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    home = await client.get("/")
    for href in ("/static/icons/favicon.svg", "/static/icons/apple-touch-icon.png"):
        assert href in home.text
        assert (await client.get(href)).status_code == 200


async def test_destructive_actions_ask_first_without_javascript(client: httpx.AsyncClient) -> None:
    author = await make_member(email="author@example.cn")
    post = await client.post(
        "/api/v1/board/posts",
        json={"category": "knowledge", "title": "要删的帖子", "body": "正文"},
        headers=bearer(await token_for(author)),
    )
    await sign_in(client, "author@example.cn")
    page = (await client.get(f"/board/posts/{post.json()['id']}")).text
    # The delete button is inside a closed <details>: one click opens the question, a second
    # (on "Yes, delete it") deletes. Native HTML, no script.
    confirm = re.search(
        r'<details class="confirm"><summary>删除</summary>(.*?)</details>', page, re.S
    )
    assert confirm, page
    assert f'action="/board/posts/{post.json()["id"]}/delete"' in confirm.group(1)
    assert "确定删除" in confirm.group(1)
    assert page.count("/delete") == 1  # no other, unasked, way to it


async def test_the_orders_list_names_what_was_bought(client: httpx.AsyncClient) -> None:
    buyer = await make_user(email="buyer@example.cn")
    product = await store.create_product(
        title="书院帆布袋", description="", category="逼格工场", price_fen=9_900, stock=5
    )
    await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=2)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    await sign_in(client, "buyer@example.cn")
    page = await client.get("/store/orders")
    assert "书院帆布袋 × 2" in page.text
    assert "¥198.00" in page.text


async def test_a_paid_order_has_a_printable_receipt_and_an_unpaid_one_none(
    app: Starlette, settings: Settings, client: httpx.AsyncClient
) -> None:
    buyer = await make_user(email="buyer@example.cn")
    product = await store.create_product(
        title="书院笔记本", description="", category="文具", price_fen=3_900, stock=5
    )
    paid = await paid_order(app.state.payments_provider, settings, buyer, product.id)
    unpaid = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    orders = [paid, unpaid]
    await sign_in(client, "buyer@example.cn")
    receipt = await client.get(f"/store/orders/{orders[0].id}/receipt")
    assert receipt.status_code == 200
    assert "书院笔记本" in receipt.text and "¥39.00" in receipt.text and "支付方式" in receipt.text
    assert (
        f'href="/store/orders/{orders[0].id}/receipt"'
        in (await client.get(f"/store/orders/{orders[0].id}")).text
    )
    assert (await client.get(f"/store/orders/{orders[1].id}/receipt")).status_code == 404
    stranger = await make_user(email="stranger@example.cn")
    assert stranger
    await sign_in(client, "stranger@example.cn")
    assert (await client.get(f"/store/orders/{orders[0].id}/receipt")).status_code == 404
