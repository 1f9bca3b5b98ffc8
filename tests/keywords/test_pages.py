"""The keyword box's page answers with an auto-reply's cards; the console's keyword pages: the
rules with a box to try a word, the form of keyword rows and reply rows (no JavaScript needed),
and what members wanted, each word a button away from a rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette

from accounts.models import AuditEntry
from keywords.checks import ReplyInput
from keywords.models import AutoReply, AutoReplyKeyword, KeywordMiss
from tests.factories import csrf_from, make_user, make_window, sign_in
from tests.keywords.conftest import make_item, make_product, make_rule, text


async def admin_client(client: httpx.AsyncClient) -> None:
    admin = await make_user(role="admin")
    await sign_in(client, admin.email)


def form(csrf: str, **rows: str) -> dict[str, str]:
    """The rule form as a browser posts it: five empty keyword and reply rows, then `rows`."""
    data = {"csrf_token": csrf, "mode": "all"}
    for n in range(5):
        data |= {f"keyword-{n}": "", f"match-{n}": "equal", f"reply-{n}": "text"}
        data[f"reply-{n}-text"] = ""
    return data | rows


async def test_the_keyword_box_shows_an_auto_replys_cards(client: httpx.AsyncClient) -> None:
    dress = await make_product("真丝连衣裙", price_fen=29_900)
    await make_window(now=datetime.now(UTC) - timedelta(hours=1), seats=12)
    await make_rule(
        ("女装", "contain"),
        replies=[text("春季女装上新啦"), ReplyInput("product", id=dress.id), ReplyInput("window")],
    )
    page = await client.get("/feed/lookup", params={"keyword": "我想买 女裝"})
    assert page.status_code == 200
    html = page.text.split('class="keyword-replies"', 1)[1]
    assert "春季女装上新啦" in html
    assert f'href="/store/products/{dress.id}"' in html and "¥299.00" in html
    assert 'href="/membership"' in html and "剩余 12 个席位" in html
    assert html.index("春季女装上新啦") < html.index("真丝连衣裙") < html.index("/membership")


async def test_the_keyword_box_still_shows_the_daily_item_and_the_hint(
    client: httpx.AsyncClient,
) -> None:
    await make_item("时间", title="时间的朋友", body="做时间的朋友。")
    found = await client.get("/feed/lookup", params={"keyword": "時間"})
    assert found.status_code == 200 and "做时间的朋友" in found.text
    missed = await client.get("/feed/lookup", params={"keyword": "没有"})
    assert missed.status_code == 404
    assert 'href="/feed/lookup?keyword=%E6%97%B6%E9%97%B4"' in missed.text  # the hint


async def test_the_console_lists_rules_and_tries_a_word_without_counting_it(
    client: httpx.AsyncClient,
) -> None:
    rule = await make_rule(
        ("客服", "equal"), ("联系", "contain"), replies=[text("工作日九点到六点")]
    )
    await admin_client(client)
    page = await client.get("/admin/keywords", params={"word": "联系客服"})
    assert page.status_code == 200
    assert f'id="rule-{rule.id}"' in page.text and "客服" in page.text
    tried = page.text.split('id="tried-heading"', 1)[1]
    assert "工作日九点到六点" in tried
    assert tried.index("以你自己的身份") < tried.index("工作日九点到六点")  # as the admin
    nothing = await client.get("/admin/keywords", params={"word": "直播"})
    assert "直播" in nothing.text
    assert (await AutoReply.get(id=rule.id)).hits == 0
    assert await KeywordMiss.all().count() == 0


async def test_the_new_rule_form_is_filled_from_the_misses_page_and_saves_a_rule(
    client: httpx.AsyncClient,
) -> None:
    dress = await make_product("真丝连衣裙")
    await admin_client(client)
    page = await client.get("/admin/keywords/new", params={"keyword": "女裝"})
    assert page.status_code == 200
    assert 'name="keyword-0" value="女裝"' in page.text
    assert f'<option value="product:{dress.id}">真丝连衣裙</option>' in page.text
    saved = await client.post(
        "/admin/keywords",
        data=form(
            csrf_from(page.text),
            **{
                "keyword-0": "女裝",
                "match-0": "contain",
                "keyword-3": "裙子",
                "reply-1": f"product:{dress.id}",
                "reply-2": "text",
                "reply-2-text": "更多款式在店里",
                "mode": "random_one",
            },
        ),
    )
    assert saved.status_code == 303
    rule = await AutoReply.get()
    assert saved.headers["location"] == f"/admin/keywords#rule-{rule.id}"
    assert rule.mode == "random_one"
    keywords = await AutoReplyKeyword.filter(rule_id=rule.id).order_by("id")
    assert [(k.text, k.key, k.match) for k in keywords] == [
        ("女裝", "女装", "contain"),
        ("裙子", "裙子", "equal"),
    ]
    answer = (await client.get("/api/v1/keyword-replies", params={"keyword": "女装"})).json()
    assert answer["replies"][0]["kind"] in ("product", "text")


async def test_a_refused_form_keeps_what_was_typed_and_says_why_beside_the_row(
    client: httpx.AsyncClient,
) -> None:
    await make_rule(("客服", "equal"))
    await admin_client(client)
    page = await client.get("/admin/keywords/new")
    csrf = csrf_from(page.text)
    empty = await client.post("/admin/keywords", data=form(csrf))
    assert empty.status_code == 422
    assert 'id="keywords-error"' in empty.text and 'id="replies-error"' in empty.text
    bad = await client.post(
        "/admin/keywords",
        data=form(
            csrf,
            **{"keyword-2": "书" * 41, "reply-4": "product:99999", "reply-0-text": "留着"},
        ),
    )
    assert bad.status_code == 422
    assert 'id="keyword-2-error"' in bad.text and 'id="reply-4-error"' in bad.text
    assert "留着" in bad.text  # what was typed stays
    taken = await client.post(
        "/admin/keywords", data=form(csrf, **{"keyword-1": "客 服", "reply-0-text": "你好"})
    )
    assert taken.status_code == 409
    assert "客 服" in taken.text and 'role="alert"' in taken.text
    assert await AutoReply.all().count() == 1


async def test_a_rule_is_edited_and_deleted_on_its_page(client: httpx.AsyncClient) -> None:
    rule = await make_rule(("客服", "equal"), replies=[text("你好")])
    await admin_client(client)
    page = await client.get(f"/admin/keywords/{rule.id}")
    assert page.status_code == 200
    assert 'name="keyword-0" value="客服"' in page.text and ">你好</textarea>" in page.text
    csrf = csrf_from(page.text)
    saved = await client.post(
        f"/admin/keywords/{rule.id}",
        data=form(csrf, **{"keyword-0": "联系我们", "reply-0-text": "工作日九点到六点"}),
    )
    assert saved.status_code == 303
    assert [k.text for k in await AutoReplyKeyword.filter(rule_id=rule.id)] == ["联系我们"]
    deleted = await client.post(f"/admin/keywords/{rule.id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert not await AutoReply.exists(id=rule.id)
    assert await AuditEntry.filter(object_type="auto_reply").count() == 3
    assert (await client.get(f"/admin/keywords/{rule.id}")).status_code == 404


async def test_the_misses_page_lists_words_by_frequency_with_a_button_to_make_a_rule(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    for word in ("直播", "直 播", "电子书", "客服"):
        await client.get("/feed/lookup", params={"keyword": word})
    await make_rule(("客服", "equal"), memory=app.state.memory.keywords)
    await admin_client(client)
    page = await client.get("/admin/keywords/misses")
    assert page.status_code == 200
    html = page.text
    assert html.index("直播") < html.index("电子书")
    buttons = re.findall(r'name="keyword" value="([^"]+)"', html)
    assert buttons == ["直播", "电子书"]  # 客服 is answered now: no button
    assert "客服" in html
    month = await client.get("/admin/keywords/misses", params={"days": 30})
    assert month.status_code == 200


async def test_staff_without_the_feed_may_not_open_the_keyword_pages(
    client: httpx.AsyncClient,
) -> None:
    support = await make_user(role="support")
    await sign_in(client, support.email)
    for path in ("/admin/keywords", "/admin/keywords/new", "/admin/keywords/misses"):
        assert (await client.get(path)).status_code == 403, path


async def test_a_forged_reply_choice_is_refused_beside_its_row_never_a_server_error(
    client: httpx.AsyncClient,
) -> None:
    await admin_client(client)
    csrf = csrf_from((await client.get("/admin/keywords/new")).text)
    for choice in ("product:9999999999", "product:abc", "video:1", "post:", "feed_item:-1"):
        refused = await client.post(
            "/admin/keywords", data=form(csrf, **{"keyword-0": "书", "reply-2": choice})
        )
        assert refused.status_code == 422, choice
        assert 'id="reply-2-error"' in refused.text, choice
    assert await AutoReply.all().count() == 0


async def test_a_missed_word_with_html_is_escaped_on_the_misses_page(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/feed/lookup", params={"keyword": "<script>alert(1)</script>"})
    await admin_client(client)
    page = await client.get("/admin/keywords/misses")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)" in page.text
