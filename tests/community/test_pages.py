"""The feed's pages: feed and item pages with gating, the keyword box, search, admin forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette

from community.feed.audio import silent_mp3
from community.feed.memory import FeedMemory
from community.feed.models import FeedItem
from tests.community.conftest import later, write_item
from tests.factories import csrf_from, make_member, make_user, sign_in


async def test_the_feed_page_shows_today_first_with_a_player_then_earlier_days(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await write_item(
        client, admin_headers, title="昨天的事", keyword="昨天", publish_at=later(days=-1)
    )
    await write_item(client, admin_headers, title="今天的事", keyword="今天", audio=silent_mp3(5))
    page = await client.get("/feed")
    assert page.status_code == 200
    html = page.text
    assert html.index("今天的事") < html.index("昨天的事")
    assert "<audio" in html and 'data-rate="1.25"' in html and 'data-rate="2"' in html
    assert "/static/js/player.js" in html


async def test_members_only_items_show_a_teaser_and_a_way_to_join(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    item = (
        await write_item(
            client, admin_headers, members_only=True, body="开头一句。\n\n" + "秘密内容" * 50
        )
    ).json()
    anonymous = (await client.get(f"/feed/items/{item['id']}")).text
    assert "开头一句" in anonymous and "秘密内容" * 30 not in anonymous
    assert 'href="/membership"' in anonymous

    member = await make_member()
    await sign_in(client, member.email)
    full = (await client.get(f"/feed/items/{item['id']}")).text
    assert "秘密内容" * 50 in full


async def test_an_items_kept_card_still_fits_each_reader(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # The item's card is rendered once per language and signed-in state and kept with the
    # item: a visitor, a signed-in non-member and a member each still see their own.
    item = (
        await write_item(
            client,
            admin_headers,
            members_only=True,
            body="开头一句。\n\n" + "秘密内容" * 50,
            audio=silent_mp3(5),
        )
    ).json()
    path = f"/feed/items/{item['id']}"
    sign_in_here = f'href="/account/login?next={path}"'
    visitor_zh = (await client.get(path, headers={"Accept-Language": "zh-CN"})).text
    visitor_en = (await client.get(path, headers={"Accept-Language": "en"})).text
    assert sign_in_here in visitor_zh and sign_in_here in visitor_en
    assert "This item is for members." in visitor_en
    assert "This item is for members." not in visitor_zh
    assert f'content="http://testserver{path}"' in visitor_en  # its link preview
    await sign_in(client, (await make_user()).email)
    reader = (await client.get(path, headers={"Accept-Language": "en"})).text
    assert sign_in_here not in reader and "Become a member" in reader
    assert 'name="csrf_token" value="' + csrf_from(reader) + '"' in reader  # its own share form
    client.cookies.clear()
    await sign_in(client, (await make_member()).email)
    member = (await client.get(path, headers={"Accept-Language": "en"})).text
    assert "秘密内容" * 50 in member and "<audio" in member


async def test_the_keyword_box_is_on_every_page_and_finds_the_item(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await write_item(client, admin_headers, title="精神粮食", keyword="粮食", body="一篇读书笔记")
    for path in ("/", "/feed", "/store", "/membership"):
        assert 'action="/feed/lookup"' in (await client.get(path)).text, path
    found = await client.get("/feed/lookup", params={"keyword": " 粮食！"})
    assert found.status_code == 200
    assert "一篇读书笔记" in found.text
    unknown = await client.get("/feed/lookup", params={"keyword": "没有"})
    assert unknown.status_code == 404
    assert "粮食" in unknown.text  # the hint: the latest keyword


async def test_search_finds_chinese_words_inside_sentences(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await write_item(
        client, admin_headers, title="行为经济学入门", keyword="经济", body="人并不总是理性的。"
    )
    await write_item(
        client, admin_headers, title="怎样读一本书", keyword="读书", body="精读与泛读。"
    )
    api = (await client.get("/api/v1/feed/search", params={"q": "经济学"})).json()
    assert [item["title"] for item in api["items"]] == ["行为经济学入门"]
    both_words = (await client.get("/api/v1/feed/search", params={"q": "理性 经济"})).json()
    assert [item["title"] for item in both_words["items"]] == ["行为经济学入门"]
    assert (await client.get("/api/v1/feed/search", params={"q": "泛读"})).json()["items"][0][
        "title"
    ] == "怎样读一本书"
    assert (await client.get("/api/v1/feed/search", params={"q": "量子"})).json()["items"] == []
    page = await client.get("/feed/search", params={"q": "精读"})
    assert "怎样读一本书" in page.text and "行为经济学入门" not in page.text


async def test_an_admin_writes_schedules_edits_and_unpublishes_through_the_pages(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(admin=True)
    await sign_in(client, admin.email)
    form = await client.get("/admin/feed/new")
    assert form.status_code == 200
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone().strftime("%Y-%m-%dT%H:%M")
    created = await client.post(
        "/admin/feed/new",
        data={
            "csrf_token": csrf_from(form.text),
            "title": "明早的语音",
            "body": "# 标题\n\n正文",
            "keyword": "明早",
            "publish_at": tomorrow,
        },
        files={"audio": ("voice.mp3", silent_mp3(3), "audio/mpeg")},
    )
    assert created.status_code == 303
    item = await FeedItem.get(keyword="明早")
    assert item.publish_at > datetime.now(UTC) and item.audio_seconds
    dashboard = await client.get("/admin/feed")
    assert "明早的语音" in dashboard.text

    edit = await client.get(f"/admin/feed/{item.id}/edit")
    changed = await client.post(
        f"/admin/feed/{item.id}/edit",
        data={
            "csrf_token": csrf_from(edit.text),
            "title": "改过的标题",
            "body": "新正文",
            "keyword": "明早",
            "publish_at": "",
            "remove_audio": "on",
        },
    )
    assert changed.status_code == 303
    await item.refresh_from_db()
    assert item.title == "改过的标题" and item.audio_file is None

    await client.post(
        f"/admin/feed/{item.id}/unpublish", data={"csrf_token": csrf_from(dashboard.text)}
    )
    await item.refresh_from_db()
    assert item.unpublished and item.live_keyword is None


async def test_the_admin_form_shows_errors_and_keeps_what_was_typed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await write_item(client, admin_headers, keyword="占用")
    admin = await make_user(admin=True)
    await sign_in(client, admin.email)
    form = await client.get("/admin/feed/new")
    clash = await client.post(
        "/admin/feed/new",
        data={
            "csrf_token": csrf_from(form.text),
            "title": "我的标题",
            "body": "正文",
            "keyword": "占用",
        },
    )
    assert clash.status_code == 422
    assert "我的标题" in clash.text and "already" in clash.text
    bad_audio = await client.post(
        "/admin/feed/new",
        data={
            "csrf_token": csrf_from(form.text),
            "title": "我的标题",
            "body": "正文",
            "keyword": "新",
        },
        files={"audio": ("x.mp3", b"not audio" * 100, "audio/mpeg")},
    )
    assert bad_audio.status_code == 422
    assert 'id="audio-error"' in bad_audio.text
    assert await FeedItem.filter(keyword="新").count() == 0


async def test_feed_admin_pages_are_for_admins_only(client: httpx.AsyncClient) -> None:
    reader = await make_user()
    await sign_in(client, reader.email)
    assert (await client.get("/admin/feed")).status_code == 403
    assert (await client.get("/admin/feed/new")).status_code == 403


async def test_earlier_days_load_with_htmx_or_a_plain_link(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for day in range(15):
        await write_item(
            client,
            admin_headers,
            title=f"第{day}期",
            keyword=f"k{day}",
            publish_at=later(days=-day),
        )
    page = await client.get("/feed")
    assert "第0期" in page.text and "第9期" in page.text and "第10期" not in page.text
    link = page.text.index('href="/feed?cursor=')
    cursor = page.text[link + len('href="/feed?cursor=') : page.text.index('"', link + 6)]
    more = await client.get(f"/feed?cursor={cursor}", headers={"HX-Request": "true"})
    assert more.status_code == 200
    assert "<html" not in more.text and "第10期" in more.text and "第14期" in more.text
    plain = await client.get(f"/feed?cursor={cursor}")
    assert "<html" in plain.text and "第10期" in plain.text


async def test_anonymous_readers_revalidate_with_an_etag_and_edits_show_at_once(
    app: Starlette, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    item = (await write_item(client, admin_headers, title="原来的标题")).json()
    first = await client.get("/feed")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = await client.get("/feed", headers={"If-None-Match": etag})
    assert again.status_code == 304

    # An edit in this worker empties its memory of the feed at once.
    await services_update_title(item["id"], "改过的标题", app.state.memory.feed)
    changed = await client.get("/feed", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "改过的标题" in changed.text and changed.headers["etag"] != etag


async def services_update_title(item_id: int, title: str, memory: FeedMemory) -> None:
    from community.feed import editing as feed_editing

    item = await feed_editing.get_item(item_id)
    await feed_editing.update_item(
        item_id,
        title=title,
        body=item.body,
        keyword=item.keyword,
        members_only=item.members_only,
        publish_at=None,
        memory=memory,
        actor=None,
    )


async def test_publishing_again_when_the_keyword_was_taken_says_so_on_the_dashboard(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # The refusal reaches the one handler (a flash, back to the dashboard), in the reader's
    # language.
    first = (await write_item(client, admin_headers, keyword="重名")).json()
    await client.post(f"/api/v1/admin/feed-items/{first['id']}/unpublish", headers=admin_headers)
    await write_item(client, admin_headers, keyword="重名")
    admin = await make_user(admin=True)
    await sign_in(client, admin.email)
    dashboard = await client.get("/admin/feed")
    refused = await client.post(
        f"/admin/feed/{first['id']}/publish",
        data={"csrf_token": csrf_from(dashboard.text)},
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == "/admin/feed"
    shown = await client.get("/admin/feed", headers={"Accept-Language": "en"})
    assert "already" in shown.text
    assert (await FeedItem.get(id=first["id"])).unpublished
