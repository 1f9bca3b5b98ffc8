"""Feed audio over HTTP: Range requests for seeking, ETag and cache headers, members only."""

from __future__ import annotations

import httpx

from tests.community.conftest import write_item
from tests.factories import make_member, make_user, sign_in


async def test_range_requests_let_players_seek(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    item = (await write_item(client, admin_headers, audio=mp3)).json()
    assert item["audio_url"].endswith(".mp3")
    size = len(mp3)

    whole = await client.get(item["audio_url"])
    assert whole.status_code == 200
    assert whole.content == mp3
    assert whole.headers["content-type"] == "audio/mpeg"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["etag"]
    assert "max-age" in whole.headers["cache-control"]

    first = await client.get(item["audio_url"], headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.content == mp3[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{size}"

    middle = await client.get(item["audio_url"], headers={"Range": "bytes=5000-5999"})
    assert middle.status_code == 206
    assert middle.content == mp3[5000:6000]
    assert middle.headers["content-length"] == "1000"

    open_ended = await client.get(item["audio_url"], headers={"Range": f"bytes={size - 10}-"})
    assert open_ended.status_code == 206
    assert open_ended.content == mp3[-10:]
    assert open_ended.headers["content-range"] == f"bytes {size - 10}-{size - 1}/{size}"

    beyond = await client.get(item["audio_url"], headers={"Range": f"bytes={size + 10}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"

    cached = await client.get(item["audio_url"], headers={"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304
    assert cached.content == b""


async def test_members_only_audio_is_refused_to_non_members(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    item = (await write_item(client, admin_headers, audio=mp3, members_only=True)).json()
    anonymous = await client.get(item["audio_url"])
    assert anonymous.status_code == 401
    assert mp3[:100] not in anonymous.content

    outsider = await make_user()
    await sign_in(client, outsider.email)
    refused = await client.get(item["audio_url"], headers={"Range": "bytes=0-99"})
    assert refused.status_code == 403
    assert "member" in refused.text.lower() or "会员" in refused.text

    client.cookies.clear()
    member = await make_member()
    await sign_in(client, member.email)
    allowed = await client.get(item["audio_url"], headers={"Range": "bytes=0-99"})
    assert allowed.status_code == 206
    assert allowed.content == mp3[:100]
    assert allowed.headers["cache-control"].startswith("private")


async def test_audio_of_unpublished_or_unknown_items_is_not_served(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    item = (await write_item(client, admin_headers, audio=mp3)).json()
    await client.post(f"/api/v1/admin/feed-items/{item['id']}/unpublish", headers=admin_headers)
    assert (await client.get(item["audio_url"])).status_code == 404
    assert (await client.get("/feed/audio/1-0000.mp3")).status_code == 404
    assert (await client.get("/feed/audio/..%2F..%2Fsecret_key")).status_code == 404


async def test_bad_uploads_are_refused_with_a_clear_message(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    for payload, name in [
        (b"", "empty.mp3"),
        (b"this is not audio at all" * 50, "fake.mp3"),
        (b"\x89PNG\r\n\x1a\n" + bytes(2000), "picture.mp3"),
        (b"ID3" + bytes(20), "truncated.mp3"),
    ]:
        response = await client.post(
            "/api/v1/admin/feed-items",
            data={"title": "坏文件", "body": "正文", "keyword": f"坏{name}"},
            files={"audio": (name, payload, "audio/mpeg")},
            headers={**admin_headers, "Accept-Language": "en"},
        )
        assert response.status_code == 422, name
        error = response.json()["error"]
        assert error["field"] == "audio"
        assert "mp3" in error["message"].lower() or "audio" in error["message"].lower()
    response = await client.get("/api/v1/admin/feed-items", headers=admin_headers)
    assert response.json()["items"] == []  # nothing half-made was stored


def mp3_with_frame_count(seconds: float) -> bytes:
    """A silent MP3 whose first frame is a Xing header declaring how many frames follow, as
    encoders write it: players and mutagen take the length from that count."""
    import struct

    from community.feed.audio import silent_mp3

    frames = round(seconds * 44100 / 1152)
    header = bytes([0xFF, 0xFB, 0x90, 0x64])
    xing = header + bytes(32) + b"Xing" + struct.pack(">II", 1, frames)
    return xing + bytes(417 - len(xing)) + silent_mp3(seconds)


async def test_an_audio_file_cut_short_of_its_declared_length_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    whole = mp3_with_frame_count(60)
    accepted = await write_item(client, admin_headers, audio=whole)
    assert accepted.status_code == 201
    assert 59 <= accepted.json()["audio_seconds"] <= 61
    cut = await write_item(client, admin_headers, audio=whole[: len(whole) // 3], keyword="剪短")
    assert cut.status_code == 422
    assert cut.json()["error"]["field"] == "audio"
    assert "cut short" in cut.json()["error"]["message"]


def test_a_cut_m4a_is_told_apart_by_its_boxes() -> None:
    from community.feed.audio import _mp4_boxes_whole

    box = (16).to_bytes(4, "big") + b"ftyp" + b"M4A " + bytes(4)
    mdat = (1000).to_bytes(4, "big") + b"mdat" + bytes(992)
    assert _mp4_boxes_whole(box + mdat)
    assert not _mp4_boxes_whole(box + mdat[:300])


async def test_a_members_only_voice_tells_others_who_can_listen_instead_of_a_dead_player(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    made = await write_item(
        client, admin_headers, audio=mp3_with_frame_count(60), members_only=True, keyword="会员声音"
    )
    assert made.status_code == 201
    await make_user(email="visitor@example.cn")
    await sign_in(client, "visitor@example.cn")
    page = await client.get(f"/feed/items/{made.json()['id']}")
    assert page.status_code == 200
    assert "<audio" not in page.text
    assert "会员可以收听这段语音" in page.text and 'href="/membership"' in page.text


async def test_audio_is_never_compressed_whole_or_in_ranges(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    """A player seeking by Range, or fetching the whole voice, gets the file's own bytes even
    when it accepts gzip or brotli (web.compression: audio is not on the list)."""
    item = (await write_item(client, admin_headers, audio=mp3)).json()
    for headers in (
        {"Accept-Encoding": "gzip, br"},
        {"Accept-Encoding": "gzip, br", "Range": "bytes=0-99"},
    ):
        answer = await client.get(item["audio_url"], headers=headers)
        assert answer.status_code in (200, 206)
        assert "content-encoding" not in answer.headers, headers
    assert answer.status_code == 206 and answer.content == mp3[:100]


async def test_the_feed_opens_on_a_members_only_voice_for_visitors_and_non_members(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """Today's item, a members-only voice, heads the feed page, which renders it into a
    fragment shared by every reader with the same access: a visitor is asked to sign in, a
    signed-in non-member to become one (this page once failed with 500 for both)."""
    made = await write_item(
        client, admin_headers, audio=mp3_with_frame_count(60), members_only=True, keyword="早安"
    )
    assert made.status_code == 201
    visitor = await client.get("/feed")
    assert visitor.status_code == 200
    assert "<audio" not in visitor.text
    assert 'href="/account/login?next=/feed"' in visitor.text
    await make_user(email="reader@example.cn")
    await sign_in(client, "reader@example.cn")
    reader = await client.get("/feed")
    assert reader.status_code == 200
    assert "会员可以收听这段语音" in reader.text
    assert 'href="/account/login?next=/feed"' not in reader.text
    assert 'href="/membership"' in reader.text


async def test_members_only_audio_is_refused_with_the_feeds_own_codes(
    client: httpx.AsyncClient, admin_headers: dict[str, str], mp3: bytes
) -> None:
    # The rule lives in community.feed.services.audio_for_listener: a script asking for JSON
    # hears the same refusal as the page, by its code.
    item = (await write_item(client, admin_headers, audio=mp3, members_only=True)).json()
    json = {"Accept": "application/json"}
    anonymous = await client.get(item["audio_url"], headers=json)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"

    await sign_in(client, (await make_user()).email)
    refused = await client.get(item["audio_url"], headers=json)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "members_only"
