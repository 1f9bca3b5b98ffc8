"""The account page as a hub: what is yours elsewhere, sessions named by browser and system, and
signing out everywhere else (the page and the API, one rule)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette

from accounts.models import User
from tests.factories import bearer, csrf_from, make_member, make_user, sign_in, token_for

CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
WECHAT_ON_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)


def browser(app: Starlette, user_agent: str = "") -> httpx.AsyncClient:
    headers = {"user-agent": user_agent} if user_agent else None
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )


@asynccontextmanager
async def signed_in(
    app: Starlette, user: User, user_agent: str = ""
) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app, user_agent) as client:
        await sign_in(client, user.email)
        yield client


async def test_sessions_are_named_by_browser_and_system(app: Starlette) -> None:
    user = await make_user()
    async with (
        signed_in(app, user, CHROME_ON_WINDOWS) as laptop,
        signed_in(app, user, WECHAT_ON_IOS),
        signed_in(app, user, "garbage/// not a browser"),
    ):
        page = (await laptop.get("/account")).text
    assert "Windows 10 上的 Chrome 131" in page
    assert "iOS 17 上的 WeChat 8.0" in page
    assert "未知浏览器" in page
    assert "garbage" not in page


async def test_the_api_adds_a_readable_device_in_the_callers_language(app: Starlette) -> None:
    user = await make_user()
    token = await token_for(user)
    async with signed_in(app, user, WECHAT_ON_IOS) as phone:
        listed = await phone.get(
            "/api/v1/me/sessions", headers={**bearer(token), "accept-language": "en"}
        )
    devices = {item["kind"]: item["device"] for item in listed.json()["items"]}
    assert devices == {"session": "WeChat 8.0 on iOS 17", "token": "API token: test"}


async def test_signing_out_everywhere_else_on_the_page_keeps_only_this_browser(
    app: Starlette,
) -> None:
    user = await make_user()
    token = await token_for(user)
    async with (
        signed_in(app, user, CHROME_ON_WINDOWS) as here,
        signed_in(app, user, WECHAT_ON_IOS) as elsewhere,
    ):
        page = await here.get("/account")
        assert "退出其他所有登录" in page.text
        done = await here.post(
            "/account/sessions/end-others", data={"csrf_token": csrf_from(page.text)}
        )
        assert (done.status_code, done.headers["location"]) == (303, "/account")
        after = await here.get("/account")
        assert after.status_code == 200
        assert "已退出其他所有地方的登录。" in after.text
        assert "退出其他所有登录" not in after.text  # nothing else is left to end
        assert (await elsewhere.get("/account")).status_code == 303
        ended = await here.get("/api/v1/me", headers=bearer(token))
        assert (ended.status_code, ended.json()["error"]["code"]) == (401, "session_ended")


async def test_signing_out_everywhere_else_needs_the_pages_csrf_token(app: Starlette) -> None:
    user = await make_user()
    async with (
        signed_in(app, user) as here,
        signed_in(app, user) as elsewhere,
    ):
        refused = await here.post("/account/sessions/end-others", data={"csrf_token": "x"})
        assert refused.status_code == 403
        assert (await elsewhere.get("/account")).status_code == 200


async def test_signing_out_everywhere_else_by_the_api_keeps_only_the_callers_token(
    app: Starlette,
) -> None:
    user = await make_user()
    caller, other = await token_for(user), await token_for(user)
    someone_else = await token_for(await make_user())
    async with signed_in(app, user) as elsewhere:
        done = await elsewhere.delete("/api/v1/me/sessions", headers=bearer(caller))
        assert (done.status_code, done.content) == (204, b"")
        assert (await elsewhere.get("/account")).status_code == 303
        assert (await elsewhere.get("/api/v1/me", headers=bearer(other))).status_code == 401
        assert (await elsewhere.get("/api/v1/me", headers=bearer(caller))).status_code == 200
        assert (await elsewhere.get("/api/v1/me", headers=bearer(someone_else))).status_code == 200
        left = await elsewhere.get("/api/v1/me/sessions", headers=bearer(caller))
        assert [(i["kind"], i["current"]) for i in left.json()["items"]] == [("token", True)]


async def test_signing_out_everywhere_else_by_the_api_needs_a_token(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.delete("/api/v1/me/sessions")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "unauthorized")


def hub_of(page: str) -> str:
    """The hub's part of the account page (the site's header links /membership too)."""
    return page.split('<nav class="hub"', 1)[1].split("</nav>", 1)[0]


async def test_a_members_hub_links_the_card_orders_addresses_podcast_and_settings(
    app: Starlette,
) -> None:
    member = await make_member()
    async with signed_in(app, member) as http:
        page = hub_of((await http.get("/account")).text)
    for path in (
        "/membership/card",
        "/store/orders",
        "/store/addresses",
        "/feed/podcast",
        "/account/notices",
        "/account/notifications",
        "/account/password",
        "/account/profile",
        f"/people/{member.id}",
    ):
        assert f'href="{path}"' in page, path
    assert "会员有效期至" in page
    assert 'href="/membership"' not in page


async def test_a_non_members_hub_says_so_and_links_the_enrollment_window(app: Starlette) -> None:
    reader = await make_user()
    async with signed_in(app, reader) as http:
        page = hub_of((await http.get("/account")).text)
    assert "非会员" in page
    assert 'href="/membership"' in page
    assert 'href="/membership/card"' not in page
