"""The share card inside WeChat's browser: templates/_wechat_share.html's script loads the
vendored JS-SDK (a CommonJS module) under the site's Content-Security-Policy and hands WeChat's
bridge the signed wx.config, then both shares. The bridge (WeixinJSBridge, which WeChat's
browser itself provides to its pages) is played by a recorder."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Route

from settings import Settings
from tests.conftest import WECHAT_OFFICIAL
from tests.e2e.conftest import WatchedBrowser
from web.headers import content_security_policy
from web.rendering import templates

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# WeChat on a Linux desktop: the SDK's own usage report (an image from open.weixin.qq.com, which
# the policy blocks) is sent from phones only, so a violation here would be ours.
IN_WECHAT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36 MicroMessenger/8.0.50 NetType/WIFI"
)
RECORDING_BRIDGE = """
window.bridgeCalls = [];
window.WeixinJSBridge = {
  invoke: function (name, args, callback) {
    window.bridgeCalls.push([name, args]);
    if (callback) callback({ err_msg: name + ":ok" });
  },
  on: function () {},
};
"""
SHARED: dict[str, dict[str, Any]] = {
    "config": {
        "appId": WECHAT_OFFICIAL.app_id,
        "timestamp": 1767225600,
        "nonceStr": "0123456789abcdef",
        "signature": "0f9de62fce790f9a083d5c99e95740ceb90c27ed",
    },
    "share": {
        "title": "《读书》合订本",
        "desc": '一年十二期 & 书院的"推荐"',
        "link": "http://testserver/store/products/7",
        "imgUrl": "http://testserver/store/products/7/poster.png",
    },
}


async def bridge_calls(page: Page, count: int) -> list[Any]:
    """The bridge's calls once there are `count` (asked from outside the page: polling from
    inside it, as wait_for_function does, is an eval the policy refuses)."""
    for _ in range(100):
        calls = await page.evaluate("window.bridgeCalls")
        if len(calls) >= count:
            return list(calls)
        await asyncio.sleep(0.1)
    raise AssertionError(f"the bridge was called {calls!r}")


async def test_the_page_hands_wechats_bridge_the_signed_config_and_both_shares(
    browser: WatchedBrowser, settings: Settings
) -> None:
    partial = templates.get_template("_wechat_share.html").render(wechat_share=SHARED)
    page_html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>读书</title>'
        f"</head><body><p>《读书》合订本</p>{partial}</body></html>"
    )
    policy = {"Content-Security-Policy": content_security_policy(settings)}

    async def serve(route: Route) -> None:
        path = urlsplit(route.request.url).path
        if path == "/store/products/7":
            await route.fulfill(body=page_html, content_type="text/html", headers=policy)
        elif path.startswith("/static/") and (ROOT / path[1:]).is_file():
            await route.fulfill(
                path=ROOT / path[1:], content_type="text/javascript", headers=policy
            )
        else:
            await route.fulfill(status=404, body="", headers=policy)

    context = await browser.new_context(user_agent=IN_WECHAT)
    await context.add_init_script(RECORDING_BRIDGE)
    await context.route("http://testserver/**", serve)
    page = await context.new_page()
    await page.goto("http://testserver/store/products/7")
    calls = await bridge_calls(page, 3)
    assert [name for name, _ in calls] == [
        "preVerifyJSAPI",
        "updateAppMessageShareData",
        "updateTimelineShareData",
    ]
    verify, friend, moments = (args for _, args in calls)
    config = SHARED["config"]
    assert verify["verifyAppId"] == config["appId"]
    assert verify["verifySignature"] == config["signature"]
    assert verify["verifyNonceStr"] == config["nonceStr"]
    assert str(verify["verifyTimestamp"]) == str(config["timestamp"])
    assert verify["verifyJsApiList"] == ["updateAppMessageShareData", "updateTimelineShareData"]
    share = SHARED["share"]
    assert {key: friend[key] for key in share} == share
    assert {key: moments[key] for key in ("title", "link", "imgUrl")} == {
        key: share[key] for key in ("title", "link", "imgUrl")
    }
    # The `module` lent to the SDK while it loaded was taken back.
    assert await page.evaluate("'module' in window") is False
    await context.close()
