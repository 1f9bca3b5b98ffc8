"""WeChat's sign-in protocol (网页授权 and 网站应用微信登录): the authorisation URLs and an async
client for the two API calls, `code -> access_token` and `access_token -> userinfo`; and the
official account's own access token and JS-SDK ticket (kept by accounts.wechat_jssdk).

WeChat's types stay here: callers get a Token and a Profile, and WeChat's error answers
(`{"errcode": ..., "errmsg": ...}`) become accounts' DomainErrors, so a bad or used code is a
clear 4xx page and an unreachable WeChat a 503, never a 500. Each call has bounded timeouts
and reads a bounded answer: what WeChat's servers send is input like any other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from accounts.errors import WechatCodeRefused, WechatNotSetUp, WechatUnavailable
from settings import Settings, WechatApp

TIMEOUT = httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=3.0)
MAX_ANSWER_BYTES = 64 * 1024  # a token or userinfo answer is a few hundred bytes
MAX_AVATAR_BYTES = 1024 * 1024  # WeChat's avatars are 132 px JPEG or PNG, a few KB
MAX_CREDENTIAL_LENGTH = 1000  # an official account's access token or ticket (512 documented)
# Answers meaning the code or token was wrong, used or expired: start again.
CODE_ERRORS = frozenset({40029, 40163, 40030, 40001, 40003, 42001, 42003, 48001})
# Answers meaning our own set-up is wrong (AppID, AppSecret, grant type): tell the operator.
SET_UP_ERRORS = frozenset({40013, 40125, 40002, 40164, 41002, 41004})
log = logging.getLogger(__name__)

OFFICIAL = "official"  # the official account's web authorisation (inside WeChat)
WEBSITE = "website"  # the Open Platform website app's QR login (on a computer)
SNSAPI_BASE = "snsapi_base"  # silent: the openid only
SNSAPI_USERINFO = "snsapi_userinfo"  # the consent page: nickname, avatar, unionid
SNSAPI_LOGIN = "snsapi_login"  # the website app's QR login


@dataclass(frozen=True)
class Token:
    """What a code was exchanged for: who (openid in that app, unionid across bound apps when
    WeChat says) and how much they agreed to share (`scope`)."""

    app_id: str
    access_token: str
    openid: str
    scope: str
    unionid: str | None


@dataclass(frozen=True)
class Issued:
    """An official account's access token or jsapi_ticket, and for how many seconds it works."""

    value: str
    expires_in: int


@dataclass(frozen=True)
class Profile:
    """What a person shares with snsapi_userinfo or snsapi_login."""

    openid: str
    unionid: str | None
    nickname: str
    headimgurl: str


def offered(settings: Settings) -> bool:
    """Whether signing in with WeChat is offered (an official account or a website app)."""
    return settings.wechat_official is not None or settings.wechat_website is not None


def in_wechat(user_agent: str) -> bool:
    """Whether the browser is WeChat's own (its User-Agent names MicroMessenger)."""
    return "micromessenger" in user_agent.lower()


class WechatClient:
    """The apps Shuyuan signs people in with, where WeChat is, and how to ask it."""

    def __init__(
        self,
        *,
        oauth_base: str,
        api_base: str,
        official: WechatApp | None,
        website: WechatApp | None,
    ) -> None:
        self.oauth_base = oauth_base.rstrip("/")
        self.api_base = api_base.rstrip("/")
        self.apps = {OFFICIAL: official, WEBSITE: website}

    @classmethod
    def from_settings(cls, settings: Settings) -> WechatClient:
        return cls(
            oauth_base=settings.wechat_oauth_base,
            api_base=settings.wechat_api_base,
            official=settings.wechat_official,
            website=settings.wechat_website,
        )

    @property
    def offered(self) -> bool:
        return any(self.apps.values())

    def app(self, kind: str) -> WechatApp:
        app = self.apps.get(kind)
        if app is None:
            raise WechatNotSetUp()
        return app

    def authorisation_url(self, kind: str, *, scope: str, state: str, redirect_uri: str) -> str:
        """Where to send the browser: the official account's web authorisation (scope
        snsapi_base or snsapi_userinfo), or the website app's QR login (snsapi_login)."""
        path = "/connect/oauth2/authorize" if kind == OFFICIAL else "/connect/qrconnect"
        query = urlencode(
            {
                "appid": self.app(kind).app_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": scope,
                "state": state,
            }
        )
        # WeChat's documented URLs keep this order of parameters and end with the fragment.
        return f"{self.oauth_base}{path}?{query}#wechat_redirect"

    async def exchange_code(self, kind: str, code: str) -> Token:
        """The access token a code stands for. Raises WechatCodeRefused (a wrong, used or
        expired code), WechatNotSetUp, WechatUnavailable."""
        app = self.app(kind)
        answer = await self._get_json(
            "/sns/oauth2/access_token",
            {
                "appid": app.app_id,
                "secret": app.secret,
                "code": code[:200],
                "grant_type": "authorization_code",
            },
        )
        access_token, openid = answer.get("access_token"), answer.get("openid")
        if not isinstance(access_token, str) or not isinstance(openid, str) or not openid:
            raise WechatUnavailable()
        unionid = answer.get("unionid")
        return Token(
            app_id=app.app_id,
            access_token=access_token,
            openid=openid[:64],
            scope=str(answer.get("scope", "")),
            unionid=unionid[:100] if isinstance(unionid, str) and unionid else None,
        )

    async def profile(self, token: Token) -> Profile:
        """The person's nickname, avatar and unionid (a snsapi_userinfo or snsapi_login
        token). Raises WechatCodeRefused, WechatUnavailable."""
        answer = await self._get_json(
            "/sns/userinfo",
            {"access_token": token.access_token, "openid": token.openid, "lang": "zh_CN"},
        )
        unionid = answer.get("unionid")
        avatar = answer.get("headimgurl")
        return Profile(
            openid=token.openid,
            unionid=unionid[:100] if isinstance(unionid, str) and unionid else token.unionid,
            nickname=str(answer.get("nickname") or "")[:60],
            headimgurl=avatar if isinstance(avatar, str) and _is_http_url(avatar) else "",
        )

    async def official_access_token(self) -> Issued:
        """A new access token of the official account for its own APIs (`cgi-bin/token`; not a
        person's): WeChat keeps one per AppID, so the previous one stops working. Raises
        WechatNotSetUp (no official account, or WeChat refused its AppID or secret),
        WechatUnavailable."""
        app = self.app(OFFICIAL)
        answer = await self._get_json(
            "/cgi-bin/token",
            {"grant_type": "client_credential", "appid": app.app_id, "secret": app.secret},
        )
        return _issued(answer, "access_token")

    async def jsapi_ticket(self, access_token: str) -> Issued:
        """A new jsapi_ticket, what the JS-SDK's wx.config is signed with; the previous one
        stops working. Raises WechatCodeRefused when `access_token` is no longer the latest
        (40001) or has expired (42001), WechatUnavailable."""
        answer = await self._get_json(
            "/cgi-bin/ticket/getticket", {"access_token": access_token, "type": "jsapi"}
        )
        return _issued(answer, "ticket")

    async def avatar(self, url: str) -> bytes | None:
        """The picture at WeChat's avatar URL, or None when it cannot be had (unreachable,
        not a picture's size): an avatar is a nicety, never a reason to refuse a sign-in."""
        if not _is_http_url(url) or not self._avatar_host(url):
            return None
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                return await _read_bounded(http, url, {}, MAX_AVATAR_BYTES)
        except (httpx.HTTPError, _TooLarge):
            log.warning("wechat avatar not fetched")
            return None

    def _avatar_host(self, url: str) -> bool:
        """Whether the avatar is on WeChat's picture hosts (thirdwx.qlogo.cn and its kin) or
        where WeChat's API is (the stand-in): the server fetches it, so an answer naming an
        address inside our network is never followed."""
        host = (urlsplit(url).hostname or "").lower()
        return (
            host == "qlogo.cn"
            or host.endswith(".qlogo.cn")
            or host == urlsplit(self.api_base).hostname
        )

    async def _get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                body = await _read_bounded(http, f"{self.api_base}{path}", params, MAX_ANSWER_BYTES)
            answer = json.loads(body)
        except (httpx.HTTPError, _TooLarge, ValueError) as exc:
            # The URL's query holds the secret: log the path only.
            log.warning("wechat %s failed: %s", path, type(exc).__name__)
            raise WechatUnavailable() from None
        if not isinstance(answer, dict):
            raise WechatUnavailable()
        errcode = answer.get("errcode")
        if errcode in (None, 0):
            return answer
        log.warning("wechat %s answered errcode %s", path, errcode)
        if errcode in CODE_ERRORS:
            raise WechatCodeRefused(errcode=errcode)
        if errcode in SET_UP_ERRORS:
            raise WechatNotSetUp()
        raise WechatUnavailable()


def _issued(answer: dict[str, Any], key: str) -> Issued:
    value, expires_in = answer.get(key), answer.get("expires_in")
    # WeChat asks for 512 characters of room for a token; anything else is not its answer.
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CREDENTIAL_LENGTH:
        raise WechatUnavailable()
    if not isinstance(expires_in, int) or not 60 <= expires_in <= 86400:
        raise WechatUnavailable()
    return Issued(value, expires_in)


class _TooLarge(Exception):
    pass


async def _read_bounded(
    http: httpx.AsyncClient, url: str, params: dict[str, str], limit: int
) -> bytes:
    async with http.stream("GET", url, params=params) as response:
        response.raise_for_status()
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise _TooLarge()
        return bytes(body)


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and len(url) <= 1000
