"""What templates/_wechat_share.html needs to set a page's share inside WeChat's browser (which
ignores OpenGraph): the JS-SDK's signed wx.config and the share's title, description, link and
picture. Routes call `wechat_share_context` and pass its answer as `wechat_share`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

import links
from accounts import wechat_jssdk
from accounts.wechat import in_wechat

# WeChat cuts a share card's title and description; these keep the data attributes small.
MAX_TITLE = 100
MAX_DESCRIPTION = 200


async def wechat_share_context(
    request: Request, *, title: str, description: str, link: str, image_url: str
) -> dict[str, Any] | None:
    """The JS-SDK config and share data of this page, or None outside WeChat's browser, without
    an official account, or before the first ticket is stored. `link` and `image_url` may be
    paths: they are put on the public address (a share leaves the site)."""
    if not in_wechat(request.headers.get("user-agent", "")[:500]):
        return None
    official = request.app.state.settings.wechat_official
    config = await wechat_jssdk.share_config(
        official.app_id if official else None, url=page_url(request), now=datetime.now(UTC)
    )
    if config is None:
        return None
    return {
        "config": config,
        "share": {
            "title": title[:MAX_TITLE],
            "desc": description[:MAX_DESCRIPTION],
            "link": _absolute(link),
            "imgUrl": _absolute(image_url),
        },
    }


def page_url(request: Request) -> str:
    """The URL the browser shows for this page, what the JS-SDK checks the signature against:
    its path and query as sent (percent-encoded, as location.href has them), on the public
    address (never the request's Host)."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    sent = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    return links.join(sent)


def _absolute(url: str) -> str:
    return links.join(url) if url.startswith("/") else url
