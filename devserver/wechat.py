"""A stand-in for WeChat's sign-in (网页授权 and 网站应用微信登录), for development and tests:
real HTTP, WeChat's paths, parameters, JSON answers and error codes, on 127.0.0.1.

    python -m devserver.wechat --port 8031 \
        --app official:wx0fficia1000001:SECRET1 --app website:wxwebsite00000001:SECRET2

What it imitates:
- The official account's web authorisation (open.weixin.qq.com): `GET /connect/oauth2/authorize`
  with appid, redirect_uri, response_type=code, scope snsapi_base | snsapi_userinfo, state.
  It answers only inside WeChat's browser (a User-Agent naming MicroMessenger; elsewhere the
  page says to open the link in WeChat, as WeChat does). snsapi_base sends the browser straight
  back to redirect_uri with `code` and `state`; snsapi_userinfo first shows the consent page
  (Allow sends the code, Deny sends the browser back with `state` and no code).
- The Open Platform website app's QR login: `GET /connect/qrconnect` (scope snsapi_login) shows
  a QR code and a button that plays the phone: pressing it is scanning and confirming.
- `GET /sns/oauth2/access_token` (code -> access_token, expires_in 7200, refresh_token, openid,
  scope, and unionid when the app is bound to the Open Platform account: for an official
  account only with snsapi_userinfo, as WeChat documents), `GET /sns/oauth2/refresh_token`,
  `GET /sns/userinfo` (nickname, sex, province, city, country, headimgurl, privilege, unionid;
  48001 for a snsapi_base token), `GET /sns/auth`. A code lives five minutes and is used
  once (40029 invalid code, 40163 code been used); a wrong secret is 40125, an unknown appid
  40013, a bad grant_type 40002, a dead access token 42001.
- Who is signed in to WeChat "on this phone" is a cookie of this server: the first
  authorisation asks for a name (a person, or a test, plays the phone's owner). One name is
  one person: their openid differs per app, and their unionid is the same in every bound app.
  The avatar (`headimgurl`) is a PNG this server draws.
- redirect_uri must be on an authorised domain (`--domain`, by default 127.0.0.1, localhost
  and testserver): WeChat checks the domain set for the app and answers error 10003.
- An official account's access token (`GET /cgi-bin/token`) and the JS-SDK's jsapi_ticket
  (`GET /cgi-bin/ticket/getticket`), one of each per AppID: wechat_official.py says how.

Not imitated: WeChat's apps themselves, the QR code's polling page (the button on the same page
plays the phone), snapshot-page users (is_snapshotuser), the official account's other APIs,
rate limits, refresh tokens expiring after 30 days, the `#wechat_redirect` fragment's effect
(it is accepted and ignored), HTTPS.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import io
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import segno
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from devserver import wechat_official

CODE_SECONDS = 300
TOKEN_SECONDS = 7200
PERSON_COOKIE = "wx_person"
OFFICIAL_SCOPES = ("snsapi_base", "snsapi_userinfo")


@dataclass(frozen=True)
class App:
    kind: str  # "official" (an official account) or "website" (an Open Platform website app)
    appid: str
    secret: str
    bound: bool = True  # bound to the Open Platform account: its users have a unionid


@dataclass
class Grant:
    """What a code or a token stands for: this person's consent to this app with this scope."""

    appid: str
    person: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class WeChat:
    apps: dict[str, App]
    domains: frozenset[str]
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)

    def openid(self, appid: str, person: str) -> str:
        return "o" + _digest(f"openid:{appid}:{person}")[:27]

    def unionid(self, appid: str, person: str) -> str | None:
        return "o" + _digest(f"unionid:{person}")[:28] if self.apps[appid].bound else None

    def new_code(self, appid: str, person: str, scope: str) -> str:
        code = secrets.token_urlsafe(24)
        self.codes[code] = Grant(appid, person, scope, time.time() + CODE_SECONDS)
        return code

    def token_answer(self, grant: Grant) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
        self.tokens[access] = Grant(
            grant.appid, grant.person, grant.scope, time.time() + TOKEN_SECONDS
        )
        self.refresh_tokens[refresh] = Grant(
            grant.appid, grant.person, grant.scope, time.time() + 30 * 86400
        )
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": TOKEN_SECONDS,
            "refresh_token": refresh,
            "openid": self.openid(grant.appid, grant.person),
            "scope": grant.scope,
        }
        kind = self.apps[grant.appid].kind
        unionid = self.unionid(grant.appid, grant.person)
        if unionid and (kind == "website" or grant.scope == "snsapi_userinfo"):
            answer["unionid"] = unionid
        return answer


def _person(request: Request) -> str:
    """Who is signed in to WeChat in this browser (the cookie holds the name URL-encoded)."""
    return unquote(request.cookies.get(PERSON_COOKIE, ""))[:32]


def _digest(text: str) -> str:
    raw = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": f"{message} rid: {secrets.token_hex(6)}"})


PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;
text-align:center}} button{{font-size:1.1rem;padding:.7rem 1.4rem;margin:.4rem;
border-radius:.4rem;border:1px solid #555;cursor:pointer}} .go{{background:#07c160;color:#fff;
border-color:#07c160}} .note{{color:#555;font-size:.85rem}} input{{font-size:1.1rem;
padding:.4rem}} img{{width:12rem;height:12rem}}</style></head><body>
<p class="note">本地模拟 · a local imitation of WeChat for development and tests</p>
<h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


def _hidden(values: dict[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in values.items()
    )


def _back(redirect_uri: str, **values: str) -> RedirectResponse:
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(f"{redirect_uri}{joiner}{urlencode(values)}", status_code=302)


def _check_authorisation(
    wechat: WeChat, params: dict[str, str], kinds: tuple[str, ...], scopes: tuple[str, ...]
) -> str | None:
    """What is wrong with an authorisation request (WeChat's error page text), or None."""
    for name, number in (("appid", 10012), ("redirect_uri", 10011), ("scope", 10010)):
        if not params.get(name):
            return f"{number}: {name} 不能为空"
    app = wechat.apps.get(params["appid"])
    if app is None:
        return "10016: appid 错误"
    if app.kind not in kinds:
        return "10016: 不支持此类应用的 appid"
    if params.get("response_type") != "code":
        return "10003: response_type 参数错误"
    if params["scope"] not in scopes:
        return "10005: 此公众号并没有这些scope的权限"
    target = urlsplit(params["redirect_uri"])
    if target.scheme not in ("http", "https") or (target.hostname or "") not in wechat.domains:
        return "10003: redirect_uri 域名与后台配置不一致"
    return None


FORWARDED = ("appid", "redirect_uri", "response_type", "scope", "state")


async def authorize(request: Request) -> Response:
    """The official account's web authorisation, inside WeChat's browser."""
    wechat: WeChat = request.app.state.wechat
    params = {k: request.query_params.get(k, "") for k in FORWARDED}
    if "micromessenger" not in request.headers.get("user-agent", "").lower():
        return _page("请在微信客户端打开链接", "<p>Open this link in WeChat.</p>")
    wrong = _check_authorisation(wechat, params, ("official",), OFFICIAL_SCOPES)
    if wrong:
        return _page("参数错误", f"<p>{html.escape(wrong)}</p>", status=400)
    person = _person(request)
    if not person:
        return _who_is_on_the_phone(request.url.path, params)
    if params["scope"] == "snsapi_base":  # silent: no page at all
        code = wechat.new_code(params["appid"], person, "snsapi_base")
        return _back(params["redirect_uri"], code=code, state=params["state"])
    body = (
        f"<p>{html.escape(person)}</p><p>申请获取你的昵称、头像 · "
        "asks for your nickname and avatar</p>"
        f'<form method="post" action="/connect/oauth2/consent">{_hidden(params)}'
        '<button class="go" name="answer" value="allow">允许 Allow</button>'
        '<button name="answer" value="deny">拒绝 Deny</button></form>'
    )
    return _page("网页授权", body)


async def consent(request: Request) -> Response:
    wechat: WeChat = request.app.state.wechat
    form = await request.form()
    params = {k: str(form.get(k, "")) for k in FORWARDED}
    wrong = _check_authorisation(wechat, params, ("official",), ("snsapi_userinfo",))
    person = _person(request)
    if wrong or not person:
        return _page("参数错误", f"<p>{html.escape(wrong or 'no person')}</p>", status=400)
    if form.get("answer") != "allow":
        return _back(params["redirect_uri"], state=params["state"])
    code = wechat.new_code(params["appid"], person, "snsapi_userinfo")
    return _back(params["redirect_uri"], code=code, state=params["state"])


def _who_is_on_the_phone(path: str, params: dict[str, str]) -> HTMLResponse:
    body = (
        "<p>谁在用这部手机上的微信？Who is using WeChat on this phone?</p>"
        f'<form method="post" action="/_phone">{_hidden({**params, "then": path})}'
        '<p><input name="person" required maxlength="32" aria-label="name" value="微信用户"></p>'
        '<button class="go">就是我 That is me</button></form>'
    )
    return _page("微信", body)


async def phone(request: Request) -> Response:
    """Be a person in this browser (the phone's owner), then go on where the page was."""
    form = await request.form()
    person = str(form.get("person", "")).strip()[:32]
    then = str(form.get("then", ""))
    if not person or then not in ("/connect/oauth2/authorize", "/connect/qrconnect"):
        return _page("参数错误", "<p>person</p>", status=400)
    query = urlencode({k: str(form.get(k, "")) for k in FORWARDED})
    response = RedirectResponse(f"{then}?{query}", status_code=303)
    response.set_cookie(PERSON_COOKIE, quote(person), httponly=True, samesite="lax")
    return response


async def qrconnect(request: Request) -> Response:
    """The website app's QR login page; the button plays the phone scanning and confirming."""
    wechat: WeChat = request.app.state.wechat
    params = {k: request.query_params.get(k, "") for k in FORWARDED}
    wrong = _check_authorisation(wechat, params, ("website",), ("snsapi_login",))
    if wrong:
        return _page("参数错误", f"<p>{html.escape(wrong)}</p>", status=400)
    person = _person(request)
    qr = segno.make(f"{request.url}", error="m").svg_data_uri(scale=4)
    body = (
        f'<p><img src="{qr}" alt="QR"></p><p>请使用微信扫描二维码登录 · scan with WeChat</p>'
        f'<form method="post" action="/connect/qrconnect/confirm">{_hidden(params)}'
        '<p><input name="person" required maxlength="32" aria-label="name" '
        f'value="{html.escape(person or "微信用户")}"></p>'
        '<button class="go">扫码并确认登录 Scan and confirm (plays the phone)</button></form>'
    )
    return _page("微信登录", body)


async def qrconnect_confirm(request: Request) -> Response:
    wechat: WeChat = request.app.state.wechat
    form = await request.form()
    params = {k: str(form.get(k, "")) for k in FORWARDED}
    wrong = _check_authorisation(wechat, params, ("website",), ("snsapi_login",))
    person = str(form.get("person", "")).strip()[:32]
    if wrong or not person:
        return _page("参数错误", f"<p>{html.escape(wrong or 'person')}</p>", status=400)
    code = wechat.new_code(params["appid"], person, "snsapi_login")
    response = _back(params["redirect_uri"], code=code, state=params["state"])
    response.set_cookie(PERSON_COOKIE, quote(person), httponly=True, samesite="lax")
    return response


def _app_with_secret(wechat: WeChat, request: Request) -> App | JSONResponse:
    app = wechat.apps.get(request.query_params.get("appid", ""))
    if app is None:
        return _error(40013, "invalid appid")
    if not secrets.compare_digest(request.query_params.get("secret", ""), app.secret):
        return _error(40125, "invalid appsecret")
    return app


async def access_token(request: Request) -> Response:
    wechat: WeChat = request.app.state.wechat
    app = _app_with_secret(wechat, request)
    if isinstance(app, JSONResponse):
        return app
    if request.query_params.get("grant_type") != "authorization_code":
        return _error(40002, "invalid grant_type")
    grant = wechat.codes.get(request.query_params.get("code", ""))
    if grant is None or grant.appid != app.appid or grant.expires_at < time.time():
        return _error(40029, "invalid code")
    if grant.used:
        return _error(40163, "code been used")
    grant.used = True
    return JSONResponse(wechat.token_answer(grant))


async def refresh_token(request: Request) -> Response:
    wechat: WeChat = request.app.state.wechat
    appid = request.query_params.get("appid", "")
    if appid not in wechat.apps:
        return _error(40013, "invalid appid")
    if request.query_params.get("grant_type") != "refresh_token":
        return _error(40002, "invalid grant_type")
    grant = wechat.refresh_tokens.get(request.query_params.get("refresh_token", ""))
    if grant is None or grant.appid != appid or grant.expires_at < time.time():
        return _error(40030, "invalid refresh_token")
    return JSONResponse(wechat.token_answer(grant))


def _token_grant(wechat: WeChat, request: Request) -> Grant | JSONResponse:
    grant = wechat.tokens.get(request.query_params.get("access_token", ""))
    if grant is None:
        return _error(40001, "invalid credential, access_token is invalid or not latest")
    if grant.expires_at < time.time():
        return _error(42001, "access_token expired")
    if request.query_params.get("openid") != wechat.openid(grant.appid, grant.person):
        return _error(40003, "invalid openid")
    return grant


async def userinfo(request: Request) -> Response:
    wechat: WeChat = request.app.state.wechat
    grant = _token_grant(wechat, request)
    if isinstance(grant, JSONResponse):
        return grant
    if grant.scope == "snsapi_base":
        return _error(48001, "api unauthorized")
    openid = wechat.openid(grant.appid, grant.person)
    answer: dict[str, Any] = {
        "openid": openid,
        "nickname": grant.person,
        "sex": 0,
        "province": "",
        "city": "",
        "country": "",
        "headimgurl": f"{request.base_url}avatar/{openid}/132",
        "privilege": [],
    }
    unionid = wechat.unionid(grant.appid, grant.person)
    if unionid:
        answer["unionid"] = unionid
    return JSONResponse(answer)


async def auth(request: Request) -> Response:
    grant = _token_grant(request.app.state.wechat, request)
    return (
        grant if isinstance(grant, JSONResponse) else JSONResponse({"errcode": 0, "errmsg": "ok"})
    )


async def avatar(request: Request) -> Response:
    """A square in a colour of the openid's own (WeChat's avatars are JPEG or PNG, 132 px)."""
    digest = hashlib.sha256(request.path_params["openid"].encode()).digest()
    picture = Image.new("RGB", (132, 132), (digest[0], digest[1], digest[2]))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return Response(out.getvalue(), media_type="image/png")


def create_app(apps: list[App], domains: frozenset[str]) -> Starlette:
    app = Starlette(
        routes=[
            Route("/connect/oauth2/authorize", authorize),
            Route("/connect/oauth2/consent", consent, methods=["POST"]),
            Route("/connect/qrconnect", qrconnect),
            Route("/connect/qrconnect/confirm", qrconnect_confirm, methods=["POST"]),
            Route("/_phone", phone, methods=["POST"]),
            Route("/sns/oauth2/access_token", access_token),
            Route("/sns/oauth2/refresh_token", refresh_token),
            Route("/sns/userinfo", userinfo),
            Route("/sns/auth", auth),
            Route("/avatar/{openid}/132", avatar),
            *wechat_official.ROUTES,
        ]
    )
    app.state.wechat = WeChat(apps={a.appid: a for a in apps}, domains=domains)
    app.state.official_accounts = wechat_official.OfficialAccounts(
        {a.appid: a.secret for a in apps if a.kind == "official"}
    )
    return app


def _app(text: str) -> App:
    """KIND:APPID:SECRET[:unbound]"""
    parts = text.split(":")
    if len(parts) not in (3, 4) or parts[0] not in ("official", "website"):
        raise argparse.ArgumentTypeError("KIND:APPID:SECRET[:unbound], KIND official|website")
    return App(parts[0], parts[1], parts[2], bound=len(parts) == 3 or parts[3] != "unbound")


def main() -> None:
    parser = argparse.ArgumentParser(prog="devserver.wechat", description=__doc__)
    parser.add_argument("--port", type=int, default=8031)
    parser.add_argument("--app", type=_app, action="append", required=True)
    parser.add_argument("--domain", action="append", default=[])
    args = parser.parse_args()
    domains = frozenset(args.domain or ("127.0.0.1", "localhost", "testserver"))
    uvicorn.run(
        create_app(args.app, domains), host="127.0.0.1", port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
