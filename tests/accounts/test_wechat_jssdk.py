"""WeChat's JS-SDK share: the signature is WeChat's documented one, and the official account's
token and ticket are fetched by the one job (from the WeChat stand-in, over real HTTP), stored,
and only read by pages."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from accounts import wechat_jssdk
from accounts.models import WechatCredential
from accounts.wechat import WechatClient
from accounts.wechat_jssdk import Refreshed, share_config, signature
from accounts.wechat_share import page_url, wechat_share_context
from jobs.schedule import PERIODIC, JobContext
from settings import Settings
from tests.conftest import WECHAT_OFFICIAL
from web.rendering import templates

IN_WECHAT = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50 NetType/WIFI"
ON_A_COMPUTER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"
APP_ID = WECHAT_OFFICIAL.app_id


async def held_at_wechat(wechat_url: str) -> dict[str, Any]:
    """What the stand-in holds for the official account: its current token and ticket, and
    how many of each it issued."""
    async with httpx.AsyncClient(base_url=wechat_url) as http:
        answer = await http.get(f"/_control/official/{APP_ID}")
        answer.raise_for_status()
        return dict(answer.json())


def refresh_job(settings: Settings, app: Starlette) -> Any:
    """A run of the periodic job, as a host's scheduler would make it."""
    [job] = [job for job in PERIODIC if job.name == "accounts.refresh_wechat_jssdk"]
    context = JobContext(
        provider=app.state.payments_provider, wechat=WechatClient.from_settings(settings)
    )
    return lambda now: job.run(context, now)


def page_request(app: Starlette, path: bytes, query: bytes, user_agent: str) -> Request:
    """A GET of a page as a browser sends it (the path percent-encoded, as in location.href)."""
    return Request(
        {
            "type": "http",
            "app": app,
            "method": "GET",
            "scheme": "http",
            "server": ("testserver", 80),
            "root_path": "",
            "path": path.decode(),
            "raw_path": path,
            "query_string": query,
            "headers": [(b"host", b"testserver"), (b"user-agent", user_agent.encode())],
        }
    )


def test_the_signature_is_wechats_documented_example() -> None:
    """The JS-SDK documentation's appendix 1 (JS-SDK使用权限签名算法), its example verbatim."""
    ticket = (
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    )
    assert (
        signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value")
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


def test_the_signature_is_sha1_of_the_fields_sorted_by_name_with_raw_values() -> None:
    """The documented algorithm: every field, names in ASCII order, key=value joined by &, no
    URL escaping, sha1 in hex."""
    fields = {
        "url": "https://shuyuan.example/store/products/7?from=share&lang=zh_CN",
        "timestamp": "1767225600",
        "noncestr": "0123456789abcdef",
        "jsapi_ticket": "kgt8ON7yVITDhtdwci0qeQ-wx-IIbKEbz_Y4kD4AYfmE4aawkGKGdQZHtNVZqGT-Ww",
    }
    string1 = "&".join(f"{name}={fields[name]}" for name in sorted(fields))
    expected = hashlib.sha1(string1.encode(), usedforsecurity=False).hexdigest()
    assert (
        signature(fields["jsapi_ticket"], fields["noncestr"], 1767225600, fields["url"]) == expected
    )


def test_the_fragment_is_not_signed() -> None:
    page = "https://shuyuan.example/feed/items/3?from=share"
    assert signature("t", "n", 1, f"{page}#comments") == signature("t", "n", 1, page)
    assert signature("t", "n", 1, f"{page}#comments") != signature("t", "n", 1, f"{page}&x=1")


async def test_no_share_config_without_an_official_account_or_before_the_first_ticket() -> None:
    now = datetime.now(UTC)
    assert await share_config(None, url="http://testserver/", now=now) is None
    assert await share_config(APP_ID, url="http://testserver/", now=now) is None
    await WechatCredential.create(
        app_id=APP_ID, jsapi_ticket="old", jsapi_ticket_expires_at=now - timedelta(seconds=1)
    )
    assert await share_config(APP_ID, url="http://testserver/", now=now) is None


async def test_without_an_official_account_the_job_fetches_nothing(
    settings: Settings, app: Starlette, wechat_url: str
) -> None:
    before = await held_at_wechat(wechat_url)
    client = WechatClient.from_settings(settings)
    client.apps["official"] = None  # a site with only the website app's QR login
    assert await wechat_jssdk.refresh(client, now=datetime.now(UTC)) is None
    assert await held_at_wechat(wechat_url) == before
    assert not await WechatCredential.exists()


async def test_the_job_fetches_the_token_and_ticket_once_and_stores_them(
    settings: Settings, app: Starlette, wechat_url: str
) -> None:
    before = await held_at_wechat(wechat_url)
    run = refresh_job(settings, app)
    now = datetime.now(UTC)
    assert await run(now) == Refreshed(access_token=True, jsapi_ticket=True)
    held = await held_at_wechat(wechat_url)
    assert held["tokens_issued"] == before["tokens_issued"] + 1
    assert held["tickets_issued"] == before["tickets_issued"] + 1
    stored = await WechatCredential.get(app_id=APP_ID)
    assert stored.access_token == held["access_token"]
    assert stored.jsapi_ticket == held["jsapi_ticket"]
    assert stored.jsapi_ticket_expires_at is not None
    assert now + timedelta(minutes=110) < stored.jsapi_ticket_expires_at <= now + timedelta(hours=2)
    assert stored.refresh_claimed_at is None
    # Every five minutes after, with far more than 20 minutes left: nothing to do.
    assert await run(now + timedelta(minutes=5)) is None
    assert await run(now + timedelta(minutes=95)) is None
    assert await held_at_wechat(wechat_url) == held


async def test_another_host_signs_with_the_stored_ticket_and_fetches_nothing(
    settings: Settings, app: Starlette, wechat_url: str
) -> None:
    await refresh_job(settings, app)(datetime.now(UTC))
    held = await held_at_wechat(wechat_url)
    other_host = Starlette()  # another process: only the settings and the database in common
    other_host.state.settings = settings
    request = page_request(other_host, b"/store/products/%E4%B9%A6", b"from=share", IN_WECHAT)
    shared = await wechat_share_context(
        request,
        title="帆布袋",
        description="书院的帆布袋",
        link="/store/products/7",
        image_url="/store/products/7/poster.png",
    )
    assert shared is not None
    config = shared["config"]
    assert config["appId"] == APP_ID
    page = "http://testserver/store/products/%E4%B9%A6?from=share"
    assert page_url(request) == page
    assert config["signature"] == signature(
        held["jsapi_ticket"], config["nonceStr"], config["timestamp"], page
    )
    assert shared["share"] == {
        "title": "帆布袋",
        "desc": "书院的帆布袋",
        "link": "http://testserver/store/products/7",
        "imgUrl": "http://testserver/store/products/7/poster.png",
    }
    # Its own run of the job finds the stored ticket fresh.
    assert await refresh_job(settings, app)(datetime.now(UTC)) is None
    assert await held_at_wechat(wechat_url) == held


async def test_outside_wechats_browser_there_is_no_share_config(
    settings: Settings, app: Starlette
) -> None:
    await refresh_job(settings, app)(datetime.now(UTC))
    request = page_request(app, b"/store/products/7", b"", ON_A_COMPUTER)
    shared = await wechat_share_context(
        request, title="t", description="d", link="/store/products/7", image_url="/x.png"
    )
    assert shared is None


async def test_a_token_near_its_end_is_fetched_again_and_the_ticket_kept(
    settings: Settings, app: Starlette, wechat_url: str
) -> None:
    now = datetime.now(UTC)
    run = refresh_job(settings, app)
    await run(now)
    ticket = (await WechatCredential.get(app_id=APP_ID)).jsapi_ticket
    await WechatCredential.filter(app_id=APP_ID).update(
        access_token_expires_at=now + timedelta(minutes=19)
    )
    before = await held_at_wechat(wechat_url)
    assert await run(now) == Refreshed(access_token=True, jsapi_ticket=False)
    held = await held_at_wechat(wechat_url)
    assert held["tokens_issued"] == before["tokens_issued"] + 1
    assert held["tickets_issued"] == before["tickets_issued"]
    stored = await WechatCredential.get(app_id=APP_ID)
    assert stored.access_token == held["access_token"] and stored.jsapi_ticket == ticket


async def test_after_both_expired_both_are_fetched_again(
    settings: Settings, app: Starlette, wechat_url: str
) -> None:
    now = datetime.now(UTC)
    run = refresh_job(settings, app)
    await run(now)
    first = await WechatCredential.get(app_id=APP_ID)
    two_hours_on = now + timedelta(hours=2)
    assert await share_config(APP_ID, url="http://testserver/", now=two_hours_on) is None
    assert await run(two_hours_on) == Refreshed(access_token=True, jsapi_ticket=True)
    stored = await WechatCredential.get(app_id=APP_ID)
    assert stored.access_token != first.access_token
    assert stored.jsapi_ticket == (await held_at_wechat(wechat_url))["jsapi_ticket"]
    assert await share_config(APP_ID, url="http://testserver/", now=two_hours_on) is not None


async def test_a_token_fetched_outside_the_app_is_replaced_once_for_the_ticket(
    settings: Settings, app: Starlette, wechat_url: str
) -> None:
    """Someone fetched a token with our AppID (a person at a console, another environment):
    ours stopped working, and the next ticket is fetched with one new token."""
    now = datetime.now(UTC)
    run = refresh_job(settings, app)
    await run(now)
    async with httpx.AsyncClient(base_url=wechat_url) as http:
        elsewhere = await http.get(
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": APP_ID,
                "secret": WECHAT_OFFICIAL.secret,
            },
        )
    assert "access_token" in elsewhere.json()
    await WechatCredential.filter(app_id=APP_ID).update(
        jsapi_ticket_expires_at=now + timedelta(minutes=10)
    )
    before = await held_at_wechat(wechat_url)
    assert await run(now) == Refreshed(access_token=True, jsapi_ticket=True)
    held = await held_at_wechat(wechat_url)
    assert held["tokens_issued"] == before["tokens_issued"] + 1
    stored = await WechatCredential.get(app_id=APP_ID)
    assert stored.access_token == held["access_token"]
    assert stored.jsapi_ticket == held["jsapi_ticket"]


async def test_two_hosts_refreshing_at_once_fetch_one_token(
    settings: Settings, app: Starlette, wechat_url: str
) -> None:
    """The claim is a conditional UPDATE: of two refreshes at the same moment one fetches,
    so the row never keeps a token WeChat invalidated a moment later."""
    before = await held_at_wechat(wechat_url)
    now = datetime.now(UTC)
    hosts = [WechatClient.from_settings(settings) for _ in range(2)]
    done = await asyncio.gather(*(wechat_jssdk.refresh(host, now=now) for host in hosts))
    assert sorted(done, key=lambda result: result is None) == [
        Refreshed(access_token=True, jsapi_ticket=True),
        None,
    ]
    held = await held_at_wechat(wechat_url)
    assert held["tokens_issued"] == before["tokens_issued"] + 1
    stored = await WechatCredential.get(app_id=APP_ID)
    assert stored.access_token == held["access_token"]


async def test_the_partial_hands_the_config_and_share_to_the_script() -> None:
    shared = {
        "config": {"appId": APP_ID, "timestamp": 1, "nonceStr": "n", "signature": "s"},
        "share": {"title": 'A "quoted" <title>', "desc": "d", "link": "l", "imgUrl": "i"},
    }
    html = templates.get_template("_wechat_share.html").render(wechat_share=shared)
    assert f'data-app-id="{APP_ID}"' in html and 'data-signature="s"' in html
    assert 'data-title="A &#34;quoted&#34; &lt;title&gt;"' in html
    assert "/static/vendor/weixin-js-sdk-1.6.5.js" in html and "/static/js/wechat-share.js" in html
    assert templates.get_template("_wechat_share.html").render(wechat_share=None).strip() == ""
    assert templates.get_template("_wechat_share.html").render().strip() == ""
