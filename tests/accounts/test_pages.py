"""The accounts pages through the real app: forms, CSRF, sessions, the inbox and languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts import notices, sessions
from accounts import services as accounts
from accounts.models import User
from tests.factories import PASSWORD, csrf_from, make_user, sign_in

LIFETIMES = sessions.Lifetimes(idle=timedelta(days=30), absolute=timedelta(days=90))

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


async def register_form(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await client.get("/account/register")
    data = {"email": "li@example.cn", "password": PASSWORD, "display_name": "李娟"}
    data.update(fields)
    return await client.post("/account/register", data={**data, "csrf_token": csrf_from(page.text)})


async def test_registering_through_the_form_signs_the_reader_in(client: httpx.AsyncClient) -> None:
    response = await register_form(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    home = await client.get("/", headers=ZH)
    assert "欢迎来到书院！" in home.text  # the flash, in Chinese
    account = await client.get("/account")
    assert account.status_code == 200
    assert "li@example.cn" in account.text
    assert "李娟" in account.text


async def test_form_errors_are_shown_inline_with_422_and_keep_the_input(
    client: httpx.AsyncClient,
) -> None:
    response = await register_form(client, email="li@example.cn", password="short")
    assert response.status_code == 422
    assert 'id="password-error"' in response.text
    assert "至少需要 8 个字符" in response.text
    assert 'value="li@example.cn"' in response.text
    assert await accounts.User.filter(email="li@example.cn").count() == 0


async def test_registering_a_taken_email_through_the_form_is_409(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="li@example.cn")
    response = await register_form(client, email="LI@example.cn")
    assert response.status_code == 409
    assert "该邮箱已注册。" in response.text


async def test_login_and_logout_through_the_forms(client: httpx.AsyncClient) -> None:
    user = await make_user(email="zhao@example.cn", name="赵老师")
    response = await sign_in(client, "zhao@example.cn")
    assert response.status_code == 303
    account = await client.get("/account")
    assert account.status_code == 200
    assert "赵老师" in account.text

    logout = await client.post("/account/logout", data={"csrf_token": csrf_from(account.text)})
    assert logout.status_code == 303
    after = await client.get("/account")
    assert after.status_code == 303
    assert after.headers["location"] == "/account/login?next=/account"
    assert user.id is not None


async def test_wrong_password_on_the_form_is_401_with_a_message(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="zhao@example.cn")
    response = await sign_in(client, "zhao@example.cn", "wrong password!")
    assert response.status_code == 401
    assert "邮箱或密码错误。" in response.text
    assert (await client.get("/account")).status_code == 303


async def test_login_follows_next_only_within_the_site(client: httpx.AsyncClient) -> None:
    await make_user(email="zhao@example.cn")
    for next_url, expected in [
        ("/account/notifications", "/account/notifications"),
        ("https://evil.example/", "/"),
        ("//evil.example/path", "/"),
        ("javascript:alert(1)", "/"),
    ]:
        page = await client.get("/account/login", params={"next": next_url})
        response = await client.post(
            "/account/login",
            data={
                "email": "zhao@example.cn",
                "password": PASSWORD,
                "next": next_url,
                "csrf_token": csrf_from(page.text),
            },
        )
        assert response.headers["location"] == expected, next_url
        client.cookies.clear()


async def test_session_cookie_is_httponly_and_samesite_lax(client: httpx.AsyncClient) -> None:
    await make_user(email="zhao@example.cn")
    response = await sign_in(client, "zhao@example.cn")
    [cookie] = [c for c in response.headers.get_list("set-cookie") if "shuyuan_session=" in c]
    assert cookie.startswith("shuyuan_session=")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http in development


async def test_session_cookie_is_secure_over_https(app: object) -> None:
    await make_user(email="zhao@example.cn")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as https:
        response = await sign_in(https, "zhao@example.cn")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "; secure" in cookie
    assert "httponly" in cookie


async def test_a_tampered_session_cookie_is_ignored(client: httpx.AsyncClient) -> None:
    await make_user(email="zhao@example.cn")
    await sign_in(client, "zhao@example.cn")
    value = client.cookies["shuyuan_session"]
    client.cookies.set("shuyuan_session", value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB"))
    response = await client.get("/account")
    assert response.status_code == 303


async def test_posts_without_the_csrf_token_are_refused(client: httpx.AsyncClient) -> None:
    await make_user(email="zhao@example.cn")
    await client.get("/account/login")  # a session with a token exists, but we do not send it
    response = await client.post(
        "/account/login", data={"email": "zhao@example.cn", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "表单已过期" in response.text
    assert (await client.get("/account")).status_code == 303

    forged = await client.post(
        "/account/login",
        data={"email": "zhao@example.cn", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert forged.status_code == 403


async def test_the_csrf_token_may_come_in_the_htmx_header(client: httpx.AsyncClient) -> None:
    user = await make_user(email="zhao@example.cn")
    await notices.notify(user.id, kind="welcome", params={"name": "小赵"})
    await sign_in(client, "zhao@example.cn")
    page = await client.get("/account/notifications")
    response = await client.post(
        "/account/notifications/read-all",
        headers={"X-CSRF-Token": csrf_from(page.text), "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert await accounts.unread_count(user) == 0


async def test_every_html_post_route_refuses_a_post_without_csrf(
    app: object, client: httpx.AsyncClient
) -> None:
    """Walks the app's routes, so a new form handler that forgets read_form() fails here."""
    from starlette.routing import Mount, Route

    # An admin is signed in, so every handler gets as far as reading its form.
    await make_user(email="zhao@example.cn", admin=True)
    await sign_in(client, "zhao@example.cn")
    from accounts.routes import CSRF_EXEMPT as ACCOUNTS_EXEMPT
    from payments.routes import CSRF_EXEMPT as PAYMENTS_EXEMPT

    CSRF_EXEMPT = PAYMENTS_EXEMPT | ACCOUNTS_EXEMPT

    posts = [
        route.path
        for route in app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        and not isinstance(route, Mount)
        and "POST" in route.methods
        and route.name not in CSRF_EXEMPT  # signed by the provider or by us (tested there)
    ]
    assert "/account/login" in posts
    for path in posts:
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = await client.post(url, data={"anything": "1"})
        assert response.status_code == 403, path


async def test_changing_the_password_signs_out_other_browsers(app: object) -> None:
    user = await make_user(email="zhao@example.cn")
    token = await accounts.issue_token(user, name="phone")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as laptop,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as tablet,
    ):
        await sign_in(laptop, "zhao@example.cn")
        await sign_in(tablet, "zhao@example.cn")
        page = await laptop.get("/account/password")
        response = await laptop.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "a brand new passphrase",
                "csrf_token": csrf_from(page.text),
            },
        )
        assert response.status_code == 303
        assert (await laptop.get("/account")).status_code == 200
        assert (await tablet.get("/account")).status_code == 303
        me = await laptop.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
    assert await accounts.authenticate(
        email="zhao@example.cn",
        password="a brand new passphrase",
        address="127.0.0.1",
        counter=app.state.counter,  # type: ignore[attr-defined]
        secret_key=app.state.settings.secret_key,  # type: ignore[attr-defined]
    )


async def test_password_change_with_the_wrong_current_password_is_refused(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="zhao@example.cn")
    await sign_in(client, "zhao@example.cn")
    page = await client.get("/account/password")
    response = await client.post(
        "/account/password",
        data={
            "current_password": "not my password",
            "new_password": "a brand new passphrase",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 401
    assert 'id="current_password-error"' in response.text
    assert (await client.get("/account")).status_code == 200  # still signed in


async def test_the_nav_shows_the_unread_count_and_reading_clears_it(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user(email="zhao@example.cn")
    first = await notices.notify(user.id, kind="welcome", params={"name": "小赵"})
    await notices.notify(
        user.id, kind="reply", params={"author": "小雨", "title": "读书会"}, link="/board/1"
    )
    assert first is not None
    await sign_in(client, "zhao@example.cn")

    home = await client.get("/")
    assert 'class="badge"' in home.text
    assert ">2<" in home.text
    inbox = await client.get("/account/notifications")
    assert "小赵，欢迎来到书院" in inbox.text
    assert 'href="/board/1"' in inbox.text

    response = await client.post(
        f"/account/notifications/{first.id}/read", data={"csrf_token": csrf_from(inbox.text)}
    )
    assert response.status_code == 303
    badge = await client.get("/account/unread")
    assert ">1<" in badge.text
    assert await accounts.unread_count(user) == 1
    # The count comes along with the session (one round trip for a page), and is asked again
    # once a notice is read in the same request.
    loaded = await sessions.load(
        client.cookies["shuyuan_session"], now=datetime.now(UTC), lifetimes=LIFETIMES
    )
    assert loaded is not None and loaded.user is not None
    assert loaded.user.unread_at_load == 1 and await accounts.unread_count(loaded.user) == 1
    await accounts.mark_all_read(loaded.user, now=datetime.now(UTC))
    assert loaded.user.unread_at_load is None and await accounts.unread_count(loaded.user) == 0


async def test_someone_elses_notification_cannot_be_marked_read(
    client: httpx.AsyncClient,
) -> None:
    other = await make_user()
    theirs = await notices.notify(other.id, kind="welcome", params={"name": "小钱"})
    assert theirs is not None
    await make_user(email="zhao@example.cn")
    await sign_in(client, "zhao@example.cn")
    page = await client.get("/account")
    response = await client.post(
        f"/account/notifications/{theirs.id}/read", data={"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 404
    assert await accounts.unread_count(other) == 1


async def test_pages_needing_a_sign_in_redirect_to_the_login(client: httpx.AsyncClient) -> None:
    for path in ("/account", "/account/password", "/account/notifications"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/account/login?next={path}"


@pytest.mark.parametrize(
    ("headers", "cookie", "expected", "html_lang"),
    [
        ({}, None, "登录", "zh-CN"),  # no preference: Chinese
        (EN, None, "Sign in", "en"),
        ({"Accept-Language": "fr-FR, en;q=0.5"}, None, "Sign in", "en"),
        ({"Accept-Language": "zh-TW,zh;q=0.9"}, None, "登录", "zh-CN"),
        (EN, "zh_CN", "登录", "zh-CN"),  # the cookie wins over the header
        (ZH, "en", "Sign in", "en"),
        (EN, "klingon", "Sign in", "en"),  # an unknown cookie is ignored
    ],
)
async def test_the_language_comes_from_the_cookie_or_accept_language(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    cookie: str | None,
    expected: str,
    html_lang: str,
) -> None:
    if cookie:
        client.cookies.set("lang", cookie)
    page = await client.get("/account/login", headers=headers)
    assert f'<html lang="{html_lang}">' in page.text
    assert f"<h1>{expected}</h1>" in page.text


async def test_choosing_a_language_sets_the_cookie_and_goes_back(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/lang/en", params={"next": "/account/login"})
    assert response.status_code == 303
    assert response.headers["location"] == "/account/login"
    assert client.cookies["lang"] == "en"
    page = await client.get("/account/login", headers=ZH)
    assert "<h1>Sign in</h1>" in page.text
    evil = await client.get("/lang/zh_CN", params={"next": "https://evil.example"})
    assert evil.headers["location"] == "/"


async def test_the_registration_form_shows_every_problem_at_once_and_keeps_the_input(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/account/register")
    response = await client.post(
        "/account/register",
        data={
            "email": "not-an-email",
            "password": "short",
            "display_name": "王小波",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 422
    html = response.text
    assert 'id="email-error"' in html
    assert 'id="password-error"' in html
    assert 'value="not-an-email"' in html
    assert 'value="王小波"' in html


async def test_the_language_is_kept_on_the_account_by_the_switch_and_by_signing_in(
    client: httpx.AsyncClient,
) -> None:
    # accounts.profiles.choose_language and language_on_sign_in.
    chooser = await make_user(email="chooser@example.cn")
    await sign_in(client, chooser.email)
    await client.get("/lang/en")
    assert (await User.get(id=chooser.id)).locale == "en"
    await client.get("/lang/xx")  # not a language we speak: nothing kept
    assert (await User.get(id=chooser.id)).locale == "en"

    client.cookies.clear()
    newcomer = await make_user(email="newcomer@example.cn")
    await User.filter(id=newcomer.id).update(locale=None)
    client.cookies.set("lang", "en")
    await sign_in(client, newcomer.email)
    assert (await User.get(id=newcomer.id)).locale == "en"  # the browser's choice is saved

    client.cookies.clear()
    await User.filter(id=chooser.id).update(locale="zh_CN")
    client.cookies.set("lang", "en")
    page = await client.get("/account/login")
    signed_in = await client.post(
        "/account/login",
        data={"email": chooser.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert "lang=zh_CN" in signed_in.headers["set-cookie"]  # the account's language wins
    assert (await User.get(id=chooser.id)).locale == "zh_CN"


async def test_the_language_switch_used_before_signing_in_wins_and_is_saved(
    client: httpx.AsyncClient,
) -> None:
    reader = await make_user(email="reader@example.cn")
    await User.filter(id=reader.id).update(locale="zh_CN")
    await client.get("/lang/en")  # chosen with the switch in this browser, signed out
    page = await client.get("/account/login")
    signed_in = await client.post(
        "/account/login",
        data={"email": reader.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert signed_in.status_code == 303
    assert "lang=zh_CN" not in signed_in.headers.get("set-cookie", "")
    assert (await User.get(id=reader.id)).locale == "en"  # saved to the account
    assert 'lang="en"' in (await client.get("/account")).text

    # Signing out forgets the choice: the next sign-in brings the account's language again.
    account = await client.get("/account")
    await client.post("/account/logout", data={"csrf_token": csrf_from(account.text)})
    await User.filter(id=reader.id).update(locale="zh_CN")
    page = await client.get("/account/login")
    again = await client.post(
        "/account/login",
        data={"email": reader.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert "lang=zh_CN" in again.headers["set-cookie"]


async def test_a_verification_link_that_is_not_ours_is_refused_by_the_one_handler(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/account/verify/not-a-link", headers={"Accept-Language": "en"})
    assert page.status_code == 404
    as_json = await client.get("/account/verify/not-a-link", headers={"Accept": "application/json"})
    assert as_json.json()["error"]["code"] == "verification_not_found"
