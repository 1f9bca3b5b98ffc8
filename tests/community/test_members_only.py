"""Members-only stays members-only: no word past a teaser reaches a non-member by any door."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from accounts.models import Notification
from community.board import services as board
from community.feed import editing as feed_editing
from community.feed import services as feed
from community.text import teaser_of
from ratelimit import MemoryCounter
from tests.factories import bearer, make_member, make_user, sign_in, token_for

LATE_WORD = "琉璃瓦隐语"  # only past the teaser of a long members-only item
SHORT_WORD = "青铜鼎密语"  # in a short members-only item: a note under a voice


async def plant() -> tuple[feed.FeedItem, feed.FeedItem]:
    admin = await make_user(admin=True)
    now = datetime.now(UTC)
    long_item = await feed_editing.create_item(
        title="长文",
        body="开头是公开的导读部分。" * 12 + f"后半段才说到{LATE_WORD}。",
        keyword="长文",
        members_only=True,
        author=admin,
        now=now,
    )
    short_item = await feed_editing.create_item(
        title="短札",
        body=f"今天的{SHORT_WORD}。",
        keyword="短札",
        members_only=True,
        author=admin,
        now=now,
    )
    return long_item, short_item


def test_a_teaser_is_never_the_whole_body_nor_its_end() -> None:
    short = "<p>今天的一句话。</p>"
    assert teaser_of(short) != "今天的一句话。"
    assert "话" not in teaser_of(short)
    long_text = "<p>" + "字" * 600 + "尾</p>"
    assert len(teaser_of(long_text)) <= 81
    assert "尾" not in teaser_of(long_text)
    assert teaser_of(short, "管理员写的导读") == "管理员写的导读"


async def every_public_output(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """What a non-member can read of the feed, through every door, as one text."""
    answers = []
    for path in (
        "/feed",
        "/feed/items/1",
        "/feed/items/2",
        "/feed/lookup?keyword=长文",
        "/feed/lookup?keyword=短札",
        "/api/v1/feed",
        "/api/v1/feed/lookup?keyword=长文",
        "/api/v1/feed/lookup?keyword=短札",
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code in (200, 404), path
        answers.append(response.text)
    for word in (LATE_WORD, SHORT_WORD):
        # Search echoes the query back; what it must not do is find the item by it.
        api = await client.get("/api/v1/feed/search", params={"q": word}, headers=headers)
        answers.append(repr(api.json()["items"]))
        page = await client.get("/feed/search", params={"q": word}, headers=headers)
        answers.append(page.text.replace(f'value="{word}"', ""))
    page = await client.get("/feed/podcast", headers=headers)
    if page.status_code == 200 and ".rss" in page.text:
        rss = page.text.split('value="', 1)[1].split('"', 1)[0]
        answers.append((await client.get(rss.replace("http://testserver", ""))).text)
    return "\n".join(answers)


@pytest.mark.parametrize("who", ["anonymous", "reader"])
async def test_no_word_past_a_teaser_reaches_a_non_member(
    client: httpx.AsyncClient, who: str
) -> None:
    long_item, _short_item = await plant()
    headers: dict[str, str] = {}
    if who == "reader":
        reader = await make_user()
        await sign_in(client, reader.email)
        headers = bearer(await token_for(reader))
    seen = await every_public_output(client, headers)
    assert "开头是公开的导读部分" in seen  # the teaser itself is public
    assert LATE_WORD not in seen
    assert SHORT_WORD not in seen
    found = await client.get("/api/v1/feed/search", params={"q": "导读"}, headers=headers)
    assert [item["id"] for item in found.json()["items"]] == [long_item.id]  # by its teaser


async def test_a_member_reads_and_finds_every_word(client: httpx.AsyncClient) -> None:
    await plant()
    member = await make_member()
    headers = bearer(await token_for(member))
    await sign_in(client, member.email)
    seen = await every_public_output(client, headers)
    assert LATE_WORD in seen
    assert SHORT_WORD in seen


async def test_a_members_only_board_tells_no_titles_to_those_who_cannot_read_it(
    client: httpx.AsyncClient,
) -> None:
    await board.set_members_only_read(True, actor=None)
    author = await make_member(name="作者甲")
    outsider = await make_user(name="路人乙")
    await board.create_post(
        author=author,
        category="knowledge",
        title="会员才能看的标题",
        body="提到 @路人乙 一下",
        counter=MemoryCounter(),
        now=datetime.now(UTC),
    )
    assert await Notification.filter(user_id=outsider.id).count() == 0
    response = await client.get("/api/v1/board/posts", headers=bearer(await token_for(outsider)))
    assert response.status_code == 403
    assert "会员才能看的标题" not in response.text
