"""The WeChat sign-in stand-in (devserver/wechat.py) speaks WeChat's protocol over real HTTP:
the paths, parameters, answers and error codes the app's client will meet in production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.live import stand_in

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = ("wx0fficia1000001", "official-secret")
WEBSITE = ("wxwebsite00000001", "website-secret")
UNBOUND = ("wxunbound00000001", "unbound-secret")
IN_WECHAT = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50 NetType/WIFI"
CALLBACK = "http://127.0.0.1:8000/account/wechat/callback"


@pytest.fixture(scope="module")
def wechat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    apps = [
        f"official:{OFFICIAL[0]}:{OFFICIAL[1]}",
        f"website:{WEBSITE[0]}:{WEBSITE[1]}",
        f"official:{UNBOUND[0]}:{UNBOUND[1]}:unbound",
    ]
    arguments = [arg for app in apps for arg in ("--app", app)]
    folder = tmp_path_factory.mktemp("wechat")
    with stand_in("wechat", *arguments, probe="/avatar/probe/132", log_folder=folder) as url:
        yield url


def _authorize(
    client: httpx.Client, appid: str, scope: str, *, redirect_uri: str = CALLBACK
) -> httpx.Response:
    return client.get(
        "/connect/oauth2/authorize",
        params={
            "appid": appid,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": scope,
            "state": "s-1",
        },
    )


def _phone_of(wechat: str, person: str) -> httpx.Client:
    """A browser inside WeChat, on the phone of `person`."""
    client = httpx.Client(base_url=wechat, headers={"User-Agent": IN_WECHAT})
    client.cookies.set("wx_person", quote(person))  # as the stand-in keeps it
    return client


def _code(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["s-1"]
    return query["code"][0]


def _token(wechat: str, app: tuple[str, str], code: str) -> dict[str, object]:
    return httpx.get(
        f"{wechat}/sns/oauth2/access_token",
        params={
            "appid": app[0],
            "secret": app[1],
            "code": code,
            "grant_type": "authorization_code",
        },
    ).json()


def test_snsapi_base_is_silent_and_gives_an_openid_without_unionid(wechat: str) -> None:
    with _phone_of(wechat, "小明") as phone:
        code = _code(_authorize(phone, OFFICIAL[0], "snsapi_base"))
    token = _token(wechat, OFFICIAL, code)
    assert token["scope"] == "snsapi_base" and token["expires_in"] == 7200
    assert str(token["openid"]).startswith("o") and "unionid" not in token
    info = httpx.get(
        f"{wechat}/sns/userinfo",
        params={"access_token": token["access_token"], "openid": token["openid"]},
    ).json()
    assert info["errcode"] == 48001  # a base token reads no profile


def test_snsapi_userinfo_asks_and_the_same_person_has_one_unionid_across_apps(
    wechat: str,
) -> None:
    with _phone_of(wechat, "小红") as phone:
        page = _authorize(phone, OFFICIAL[0], "snsapi_userinfo")
        assert page.status_code == 200 and "允许" in page.text
        allowed = phone.post(
            "/connect/oauth2/consent",
            data={
                "appid": OFFICIAL[0],
                "redirect_uri": CALLBACK,
                "response_type": "code",
                "scope": "snsapi_userinfo",
                "state": "s-1",
                "answer": "allow",
            },
        )
        official = _token(wechat, OFFICIAL, _code(allowed))
    info = httpx.get(
        f"{wechat}/sns/userinfo",
        params={"access_token": official["access_token"], "openid": official["openid"]},
    ).json()
    assert info["nickname"] == "小红" and info["unionid"] == official["unionid"]
    assert httpx.get(info["headimgurl"]).headers["content-type"] == "image/png"
    # The website's QR login, the same person: another openid, the same unionid.
    with httpx.Client(base_url=wechat) as computer:
        page = computer.get(
            "/connect/qrconnect",
            params={
                "appid": WEBSITE[0],
                "redirect_uri": CALLBACK,
                "response_type": "code",
                "scope": "snsapi_login",
                "state": "s-1",
            },
        )
        assert page.status_code == 200 and "<img" in page.text
        confirmed = computer.post(
            "/connect/qrconnect/confirm",
            data={
                "appid": WEBSITE[0],
                "redirect_uri": CALLBACK,
                "response_type": "code",
                "scope": "snsapi_login",
                "state": "s-1",
                "person": "小红",
            },
        )
    website = _token(wechat, WEBSITE, _code(confirmed))
    assert website["openid"] != official["openid"]
    assert website["unionid"] == official["unionid"]


def test_a_code_is_used_once_and_needs_its_own_apps_secret(wechat: str) -> None:
    with _phone_of(wechat, "小刚") as phone:
        code = _code(_authorize(phone, OFFICIAL[0], "snsapi_base"))
    assert _token(wechat, (OFFICIAL[0], "wrong"), code)["errcode"] == 40125
    assert _token(wechat, WEBSITE, code)["errcode"] == 40029  # another app's code
    assert "openid" in _token(wechat, OFFICIAL, code)
    assert _token(wechat, OFFICIAL, code)["errcode"] == 40163  # used
    assert _token(wechat, OFFICIAL, "forged")["errcode"] == 40029


def test_an_unbound_app_gives_no_unionid_and_a_foreign_redirect_is_refused(
    wechat: str,
) -> None:
    with _phone_of(wechat, "小刚") as phone:
        code = _code(_authorize(phone, UNBOUND[0], "snsapi_base"))
        foreign = _authorize(
            phone, OFFICIAL[0], "snsapi_base", redirect_uri="https://evil.example/cb"
        )
    assert "unionid" not in _token(wechat, UNBOUND, code)
    assert foreign.status_code == 400 and "10003" in foreign.text


def test_outside_wechat_the_authorisation_asks_to_open_wechat(wechat: str) -> None:
    answer = httpx.get(
        f"{wechat}/connect/oauth2/authorize",
        params={
            "appid": OFFICIAL[0],
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": "s-1",
        },
    )
    assert answer.status_code == 200 and "请在微信客户端打开链接" in answer.text


def _official_token(wechat: str, app: tuple[str, str] = OFFICIAL) -> dict[str, Any]:
    return dict(
        httpx.get(
            f"{wechat}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": app[0], "secret": app[1]},
        ).json()
    )


def _jsapi_ticket(wechat: str, access_token: str) -> dict[str, Any]:
    return dict(
        httpx.get(
            f"{wechat}/cgi-bin/ticket/getticket",
            params={"access_token": access_token, "type": "jsapi"},
        ).json()
    )


def test_a_new_access_token_makes_the_previous_one_invalid(wechat: str) -> None:
    first = _official_token(wechat)
    assert first["expires_in"] == 7200 and "errcode" not in first
    second = _official_token(wechat)
    assert _jsapi_ticket(wechat, first["access_token"])["errcode"] == 40001
    assert _jsapi_ticket(wechat, second["access_token"])["errcode"] == 0
    assert _official_token(wechat, (OFFICIAL[0], "wrong"))["errcode"] == 40125
    assert _official_token(wechat, ("wxnobody000000001", "x"))["errcode"] == 40013
    assert _official_token(wechat, WEBSITE)["errcode"] == 40013  # not an official account


def test_a_new_ticket_makes_the_previous_one_invalid_and_an_expired_token_gets_none(
    wechat: str,
) -> None:
    token = _official_token(wechat, UNBOUND)["access_token"]
    first, second = _jsapi_ticket(wechat, token), _jsapi_ticket(wechat, token)
    assert first["errcode"] == 0 and first["errmsg"] == "ok" and first["expires_in"] == 7200
    held = httpx.get(f"{wechat}/_control/official/{UNBOUND[0]}").json()
    assert held["jsapi_ticket"] == second["ticket"] != first["ticket"]
    assert held["access_token"] == token and held["tickets_issued"] == 2
    assert httpx.post(f"{wechat}/_control/official/{UNBOUND[0]}", json={"expire": True}).is_success
    assert _jsapi_ticket(wechat, token)["errcode"] == 42001
    assert _jsapi_ticket(wechat, "forged")["errcode"] == 40001
