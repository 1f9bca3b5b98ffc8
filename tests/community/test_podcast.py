"""The private podcast feed: valid RSS 2.0 (parsed by feedparser), enclosures that seek, reset."""

from __future__ import annotations

import feedparser
import httpx

from tests.community.conftest import later, write_item
from tests.factories import csrf_from, make_member, make_user, sign_in


async def podcast_url(client: httpx.AsyncClient) -> str:
    page = await client.get("/feed/podcast")
    assert page.status_code == 200
    start = page.text.index("http://testserver/feed/")
    return page.text[start : page.text.index('"', start)]


async def test_a_member_gets_a_valid_private_podcast_feed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    await write_item(
        client, admin_headers, title="第一期", keyword="一", audio=mp3, publish_at=later(days=-1)
    )
    await write_item(
        client, admin_headers, title="会员期", keyword="二", audio=mp3, members_only=True
    )
    await write_item(client, admin_headers, title="未来期", keyword="三", publish_at=later(days=1))
    member = await make_member()
    await sign_in(client, member.email)
    url = await podcast_url(client)
    client.cookies.clear()  # a podcast app has no cookie

    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert [entry.title for entry in parsed.entries] == ["会员期", "第一期"]
    assert parsed.feed.get("itunes_explicit") is not None or "itunes" in response.text
    enclosure = parsed.entries[0].enclosures[0]
    assert enclosure.type == "audio/mpeg" and int(enclosure.length) == len(mp3)
    assert parsed.entries[0].itunes_duration == "60"

    seek = await client.get(enclosure.href, headers={"Range": "bytes=100-199"})
    assert seek.status_code == 206  # members-only audio, through the token alone
    assert seek.content == mp3[100:200]


async def test_a_non_members_feed_leaves_members_only_audio_out(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    await write_item(
        client, admin_headers, title="会员期", keyword="二", audio=mp3, members_only=True
    )
    reader = await make_user()
    await sign_in(client, reader.email)
    url = await podcast_url(client)
    parsed = feedparser.parse((await client.get(url)).content)
    assert not parsed.bozo
    assert parsed.entries[0].get("enclosures") == []


async def test_resetting_the_token_retires_the_old_address(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    item = (await write_item(client, admin_headers, audio=mp3, members_only=True)).json()
    member = await make_member()
    await sign_in(client, member.email)
    old = await podcast_url(client)
    page = await client.get("/feed/podcast")
    reset = await client.post("/feed/podcast/reset", data={"csrf_token": csrf_from(page.text)})
    assert reset.status_code == 303
    new = await podcast_url(client)
    assert new != old
    client.cookies.clear()
    assert (await client.get(old)).status_code == 404
    assert (await client.get(new)).status_code == 200
    old_token = old.rsplit("/", 1)[1].removesuffix(".rss")
    audio = await client.get(item["audio_url"], params={"token": old_token})
    assert audio.status_code == 401
    assert (await client.get("/feed/1-1-" + "0" * 32 + ".rss")).status_code == 404
