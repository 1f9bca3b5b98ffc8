"""The official account's own credentials in the WeChat stand-in (devserver/wechat.py): its
access token and the JS-SDK's jsapi_ticket, one of each per AppID.

What it imitates:
- `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=` -> access_token, expires_in
  7200 (40002 another grant_type, 40013 an appid that is not an official account here, 40125
  a wrong secret). A new token makes the previous one invalid, as WeChat documents.
- `GET /cgi-bin/ticket/getticket?access_token=&type=jsapi` -> errcode 0, errmsg ok, ticket,
  expires_in 7200 (40001 for a token that is not the latest, 42001 for an expired one, 40097
  for another type). A new ticket makes the previous one invalid.
- Not WeChat's: `/_control/official/{appid}` shows the current token and ticket and how many
  of each were issued (what tests count), and on a POST of {"expire": true} lets them run out.

Not imitated: the five minutes in which WeChat still accepts the previous access token (refused
at once here: the stricter of the two), stable_token, tickets of other types (wx_card), the
JS-SDK's own check of a wx.config signature, daily quotas (45009), the IP allow-list (40164).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CREDENTIAL_SECONDS = 7200


@dataclass
class Issued:
    """An access token or a ticket WeChat handed out, and until when it works."""

    value: str
    expires_at: float


@dataclass
class Credentials:
    """What one official account holds at WeChat: the latest token and ticket (only those work),
    and how many of each were issued (what tests count)."""

    access_token: Issued | None = None
    jsapi_ticket: Issued | None = None
    tokens_issued: int = 0
    tickets_issued: int = 0


@dataclass
class OfficialAccounts:
    """Every official account's credentials, by AppID."""

    secrets: dict[str, str]  # AppID -> AppSecret, official accounts only
    by_app: dict[str, Credentials] = field(default_factory=dict)

    def of(self, appid: str) -> Credentials:
        return self.by_app.setdefault(appid, Credentials())

    def app_of_token(self, token: str) -> str | None:
        for appid, held in self.by_app.items():
            if held.access_token and secrets.compare_digest(held.access_token.value, token):
                return appid
        return None


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": f"{message} rid: {secrets.token_hex(6)}"})


def _issue(length: int) -> Issued:
    # WeChat's are about 150 (token) and 86 (ticket) characters of letters, digits, - and _.
    return Issued(secrets.token_urlsafe(length), time.time() + CREDENTIAL_SECONDS)


async def token(request: Request) -> Response:
    """`GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`: a new access token,
    and the previous one of this AppID stops working."""
    accounts: OfficialAccounts = request.app.state.official_accounts
    params = request.query_params
    if params.get("grant_type") != "client_credential":
        return _error(40002, "invalid grant_type")
    secret = accounts.secrets.get(params.get("appid", ""))
    if secret is None:
        return _error(40013, "invalid appid")
    if not secrets.compare_digest(params.get("secret", ""), secret):
        return _error(40125, "invalid appsecret")
    held = accounts.of(params["appid"])
    held.access_token = _issue(112)
    held.tokens_issued += 1
    return JSONResponse({"access_token": held.access_token.value, "expires_in": CREDENTIAL_SECONDS})


async def getticket(request: Request) -> Response:
    """`GET /cgi-bin/ticket/getticket?access_token=&type=jsapi`: a new jsapi_ticket, and the
    previous one of this AppID stops working."""
    accounts: OfficialAccounts = request.app.state.official_accounts
    appid = accounts.app_of_token(request.query_params.get("access_token", ""))
    if appid is None:
        return _error(40001, "invalid credential, access_token is invalid or not latest")
    held = accounts.of(appid)
    if held.access_token is None or held.access_token.expires_at < time.time():
        return _error(42001, "access_token expired")
    if request.query_params.get("type") != "jsapi":
        return _error(40097, "invalid args")
    held.jsapi_ticket = _issue(64)
    held.tickets_issued += 1
    return JSONResponse(
        {
            "errcode": 0,
            "errmsg": "ok",
            "ticket": held.jsapi_ticket.value,
            "expires_in": CREDENTIAL_SECONDS,
        }
    )


async def control(request: Request) -> Response:
    """Not WeChat's: GET what an official account holds now (its current ticket is what a
    test signs with, as the JS-SDK inside WeChat would check); POST {"expire": true} lets its
    token and ticket run out now (WeChat then answers 42001)."""
    accounts: OfficialAccounts = request.app.state.official_accounts
    appid = request.path_params["appid"]
    if appid not in accounts.secrets:
        return JSONResponse({"error": "not an official account here"}, status_code=404)
    held = accounts.of(appid)
    if request.method == "POST":
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}
        if isinstance(body, dict) and body.get("expire") is True:
            for issued in (held.access_token, held.jsapi_ticket):
                if issued is not None:
                    issued.expires_at = time.time() - 1
    answer: dict[str, Any] = {
        "access_token": held.access_token.value if held.access_token else None,
        "jsapi_ticket": held.jsapi_ticket.value if held.jsapi_ticket else None,
        "tokens_issued": held.tokens_issued,
        "tickets_issued": held.tickets_issued,
    }
    return JSONResponse(answer)


ROUTES = [
    Route("/cgi-bin/token", token),
    Route("/cgi-bin/ticket/getticket", getticket),
    Route("/_control/official/{appid}", control, methods=["GET", "POST"]),
]
