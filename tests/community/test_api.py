"""The feed's API: writing items, scheduling, members-only gating, cursors, keyword lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from community.feed import services
from community.feed.memory import FeedMemory
from community.feed.models import FeedItem
from tests.community.conftest import later, write_item
from tests.factories import bearer, make_member, make_user, token_for


async def test_an_admin_writes_an_item_and_it_is_in_the_feed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await write_item(client, admin_headers, title="罗胖六十秒", keyword="跨年")
    assert response.status_code == 201
    created = response.json()
    assert set(created) >= {"id", "title", "keyword", "members_only", "publish_at", "audio_url"}
    assert created["keyword"] == "跨年" and created["members_only"] is False
    assert created["audio_url"] is None

    feed = (await client.get("/api/v1/feed")).json()
    assert [item["id"] for item in feed["items"]] == [created["id"]]
    assert feed["items"][0]["body_html"] == "<p>今天聊聊<strong>认知</strong>。</p>\n"
    assert feed["next_cursor"] is None


async def test_only_admins_write_items(client: httpx.AsyncClient) -> None:
    reader = bearer(await token_for(await make_user()))
    assert (await write_item(client, reader)).status_code == 403
    assert (await write_item(client, {})).status_code == 401


async def test_bad_fields_are_named(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for fields, name in [
        ({"title": "  "}, "title"),
        ({"body": ""}, "body"),
        ({"publish_at": "tomorrow"}, "publish_at"),
        ({"publish_at": "2027-01-01T08:00:00"}, "publish_at"),  # no offset
        ({"members_only": "yes"}, "members_only"),
    ]:
        response = await write_item(client, admin_headers, **fields)
        assert response.status_code == 422, fields
        assert response.json()["error"]["field"] == name
    assert await FeedItem.all().count() == 0


async def test_scheduled_items_appear_at_their_time_not_before(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    scheduled = await write_item(client, admin_headers, keyword="明天", publish_at=later(hours=1))
    assert scheduled.status_code == 201
    assert (await client.get("/api/v1/feed")).json()["items"] == []
    lookup = await client.get("/api/v1/feed/lookup", params={"keyword": "明天"})
    assert lookup.status_code == 404
    assert (await client.get(f"/feed/items/{scheduled.json()['id']}")).status_code == 404

    in_an_hour = datetime.now(UTC) + timedelta(hours=1, seconds=1)
    page = await services.feed_page(now=in_an_hour, full_access=False, memory=FeedMemory())
    assert [item.id for item in page.items] == [scheduled.json()["id"]]


async def test_members_only_bodies_only_for_members(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await write_item(
        client, admin_headers, keyword="会员", members_only=True, body="只给会员的**全文**"
    )
    anonymous = (await client.get("/api/v1/feed")).json()["items"][0]
    assert anonymous["members_only"] is True
    assert "body" not in anonymous and "body_html" not in anonymous
    # A short item shows a short teaser: never its whole text, never its end.
    assert anonymous["teaser"] == "只给…"

    outsider = bearer(await token_for(await make_user()))
    outsider_view = (await client.get("/api/v1/feed", headers=outsider)).json()["items"][0]
    assert "body" not in outsider_view

    member = bearer(await token_for(await make_member()))
    member_view = (await client.get("/api/v1/feed", headers=member)).json()["items"][0]
    assert member_view["body"] == "只给会员的**全文**"
    lookup = await client.get("/api/v1/feed/lookup", params={"keyword": "会员"}, headers=member)
    assert lookup.json()["body_html"] == "<p>只给会员的<strong>全文</strong></p>\n"
    lookup = await client.get("/api/v1/feed/lookup", params={"keyword": "会员"})
    assert "body" not in lookup.json()


async def test_the_cursor_walks_every_item_once_newest_first(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    for day in range(23):
        moment = (start + timedelta(days=day)).isoformat()
        response = await write_item(client, admin_headers, keyword=f"第{day}天", publish_at=moment)
        assert response.status_code == 201
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = (await client.get("/api/v1/feed", params=params)).json()
        seen += [item["keyword"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"第{day}天" for day in reversed(range(23))]


async def test_a_forged_cursor_is_a_clear_400(client: httpx.AsyncClient) -> None:
    for cursor in ("nonsense", "bm9wZQ", "x" * 200):
        response = await client.get("/api/v1/feed", params={"cursor": cursor})
        assert response.status_code in (400, 422)
        assert response.json()["error"]["message"]


async def test_keywords_match_ignoring_case_width_spaces_and_punctuation(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ai = (await write_item(client, admin_headers, keyword="AI 时代")).json()
    deep = (await write_item(client, admin_headers, keyword="得到", title="得到")).json()
    for typed, expected in [
        ("ai 时代", ai),
        ("ＡＩ　时代", ai),  # full-width letters and an ideographic space
        ("  Ai   时代！ ", ai),
        ("《得到》", deep),
        ("得到。", deep),
        ("“得到”", deep),
    ]:
        response = await client.get("/api/v1/feed/lookup", params={"keyword": typed})
        assert response.status_code == 200, typed
        assert response.json()["id"] == expected["id"], typed


async def test_an_unknown_keyword_hints_at_the_latest_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await write_item(client, admin_headers, keyword="旧词", publish_at=later(days=-2))
    await write_item(client, admin_headers, keyword="新词", publish_at=later(days=-1))
    await write_item(client, admin_headers, keyword="未来", publish_at=later(days=1))
    response = await client.get("/api/v1/feed/lookup", params={"keyword": "不存在"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unknown_keyword"
    assert error["hint"] == "新词"  # the scheduled item's keyword is not given away


async def test_keywords_are_unique_among_live_items(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    first = (await write_item(client, admin_headers, keyword="Deep Work")).json()
    clash = await write_item(client, admin_headers, keyword="ｄｅｅｐ　ｗｏｒｋ！")
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "keyword_taken"
    assert "认知升级" in clash.json()["error"]["message"]  # names the item that has it

    unpublished = await client.post(
        f"/api/v1/admin/feed-items/{first['id']}/unpublish", headers=admin_headers
    )
    assert unpublished.status_code == 200
    lookup = await client.get("/api/v1/feed/lookup", params={"keyword": "deep work"})
    assert lookup.status_code == 404
    second = await write_item(client, admin_headers, keyword="deep work")
    assert second.status_code == 201
    again = await client.post(
        f"/api/v1/admin/feed-items/{first['id']}/publish", headers=admin_headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "keyword_taken"


async def test_analytics_count_views_plays_and_lookups(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    item = (await write_item(client, admin_headers, audio=mp3)).json()
    await client.get(f"/feed/items/{item['id']}")
    await client.get("/feed")
    for _ in range(3):
        await client.get("/api/v1/feed/lookup", params={"keyword": "认知"})
    await client.get(item["audio_url"])
    await client.get(item["audio_url"], headers={"Range": "bytes=1000-"})  # a seek, not a play
    stats = (await client.get("/api/v1/admin/feed-items", headers=admin_headers)).json()["items"][0]
    assert (stats["views"], stats["plays"], stats["lookups"]) == (2, 1, 3)


async def test_the_feeds_first_page_counts_todays_item_as_viewed_in_the_api_as_on_the_page(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    item = (await write_item(client, admin_headers)).json()
    await client.get("/feed")
    first = (await client.get("/api/v1/feed")).json()
    assert first["items"][0]["id"] == item["id"]
    stats = (await client.get("/api/v1/admin/feed-items", headers=admin_headers)).json()["items"][0]
    assert stats["views"] == 2


async def test_a_keyword_made_only_of_symbols_still_finds_its_item(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await write_item(client, admin_headers, keyword="🎉")
    assert created.status_code == 201
    found = await client.get("/api/v1/feed/lookup", params={"keyword": " 🎉 "})
    assert found.status_code == 200
    assert found.json()["id"] == created.json()["id"]
