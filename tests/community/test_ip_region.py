"""IP属地 on the board: a post and a reply show the province or country of the address they
were written from, through the API and the pages alike, and the author's profile shows their
latest; the address itself is never kept or shown."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from accounts.models import User
from community.board.models import Post, Reply
from tests.factories import bearer, csrf_from, make_member, sign_in, token_for

POSTS = "/api/v1/board/posts"
GUANGDONG = "113.108.81.189"  # 中国|0|广东省|深圳市|电信
ABROAD = "8.8.8.8"  # 美国|0|0|0|Level3
HONG_KONG = "218.188.0.1"  # 中国|0|香港|0|和记电讯


def from_address(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def write(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    data = {"category": "knowledge", "title": "读书方法", "body": "先读目录。"}
    return await client.post(POSTS, json=data, headers=headers)


async def test_a_post_and_a_reply_through_the_api_answer_their_region_never_the_address(
    app: Starlette,
) -> None:
    author = bearer(await token_for(await make_member()))
    replier = bearer(await token_for(await make_member()))
    async with from_address(app, GUANGDONG) as mainland, from_address(app, ABROAD) as abroad:
        posted = await write(mainland, author)
        post_id = posted.json()["id"]
        replied = await abroad.post(
            f"{POSTS}/{post_id}/replies", json={"body": "同意"}, headers=replier
        )
        read = await mainland.get(f"{POSTS}/{post_id}", headers=replier)
        listed = await mainland.get(POSTS, headers=replier)
    assert posted.status_code == 201 and posted.json()["ip_region"] == "广东"
    assert replied.status_code == 201 and replied.json()["ip_region"] == "美国"
    assert read.json()["ip_region"] == "广东"
    assert [reply["ip_region"] for reply in read.json()["replies"]] == ["美国"]
    assert listed.json()["items"][0]["ip_region"] == "广东"
    for answer in (posted, replied, read, listed):
        assert GUANGDONG not in answer.text and ABROAD not in answer.text
    assert await Post.all().values_list("ip_region", flat=True) == ["广东"]
    assert await Reply.all().values_list("ip_region", flat=True) == ["美国"]


async def test_a_post_and_a_reply_through_the_pages_show_their_region(app: Starlette) -> None:
    author = await make_member(name="岭南")
    replier = await make_member(name="远方")
    async with from_address(app, GUANGDONG) as mainland:
        await sign_in(mainland, author.email or "")
        form = await mainland.get("/board/new")
        created = await mainland.post(
            "/board/posts",
            data={
                "csrf_token": csrf_from(form.text),
                "category": "knowledge",
                "title": "岭南读书会",
                "body": "正文",
            },
        )
    post_url = created.headers["location"]
    async with from_address(app, ABROAD) as abroad:
        await sign_in(abroad, replier.email or "")
        token = csrf_from((await abroad.get(post_url)).text)
        htmx = {"HX-Request": "true", "X-CSRF-Token": token}
        fragment = await abroad.post(f"{post_url}/replies", data={"body": "来自远方"}, headers=htmx)
        page = await abroad.get(post_url)
    assert "IP属地：美国" in fragment.text
    assert "IP属地：广东" in page.text and "IP属地：美国" in page.text
    assert GUANGDONG not in page.text and ABROAD not in page.text


async def test_the_profile_shows_the_region_of_the_latest_post_or_reply(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    member = await make_member(name="旅人")
    headers = bearer(await token_for(member))
    async with from_address(app, GUANGDONG) as mainland:
        post_id = (await write(mainland, headers)).json()["id"]
    assert (await client.get("/api/v1/me", headers=headers)).json()["ip_region"] == "广东"
    async with from_address(app, HONG_KONG) as hong_kong:
        await hong_kong.post(f"{POSTS}/{post_id}/replies", json={"body": "到港"}, headers=headers)
    # From the default test address (127.0.0.1), which places nothing: the latest placed stays.
    await client.post(f"{POSTS}/{post_id}/replies", json={"body": "回家"}, headers=headers)

    await sign_in(client, member.email or "")
    profile = await client.get(f"/people/{member.id}")
    assert "IP属地：中国香港" in profile.text and "IP属地：广东" not in profile.text
    me = await client.get("/api/v1/me", headers=headers)
    assert me.json()["ip_region"] == "中国香港"
    assert await User.get(id=member.id).values_list("ip_region", flat=True) == "中国香港"


async def test_an_edit_keeps_the_region_the_post_was_written_from(app: Starlette) -> None:
    headers = bearer(await token_for(await make_member()))
    async with from_address(app, GUANGDONG) as mainland:
        post_id = (await write(mainland, headers)).json()["id"]
    async with from_address(app, ABROAD) as abroad:
        edited = await abroad.patch(
            f"{POSTS}/{post_id}", json={"title": "改过", "body": "新正文"}, headers=headers
        )
    assert edited.status_code == 200 and edited.json()["ip_region"] == "广东"


async def test_an_address_the_data_does_not_place_shows_no_region(
    client: httpx.AsyncClient,
) -> None:
    member = await make_member()
    posted = await write(client, bearer(await token_for(member)))  # from 127.0.0.1
    assert posted.json()["ip_region"] is None
    await sign_in(client, member.email or "")
    page = await client.get(f"/board/posts/{posted.json()['id']}")
    assert "IP属地" not in page.text
    assert "IP属地" not in (await client.get(f"/people/{member.id}")).text
