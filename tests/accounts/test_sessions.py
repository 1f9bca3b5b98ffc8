"""Server-side sessions: a copied cookie dies with its session; the owner sees and ends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette

from accounts.models import Session, User
from accounts.sessions import TOUCH_EVERY
from community.board import services as board
from community.board.models import Reply
from tests.factories import (
    PASSWORD,
    bearer,
    csrf_from,
    make_member,
    make_user,
    sign_in,
    token_for,
)
from web.sessions import SESSION_COOKIE

NEW_PASSWORD = "a much longer secret of mine"


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_a_cookie_copied_before_logout_is_refused_after_it(app: Starlette) -> None:
    user = await make_user()
    async with browser(app) as first:
        await sign_in(first, user.email)
        stolen = first.cookies[SESSION_COOKIE]
        page = await first.get("/account")
        assert page.status_code == 200
        out = await first.post("/account/logout", data={"csrf_token": csrf_from(page.text)})
        assert out.status_code == 303
    async with browser(app) as thief:
        thief.cookies.set(SESSION_COOKIE, stolen)
        refused = await thief.get("/account")
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/account/login")
    assert await Session.filter(user_id=user.id).count() == 0  # logout deleted it


async def test_signing_in_gives_a_new_session_id(app: Starlette) -> None:
    user = await make_user()
    async with browser(app) as visitor:
        await visitor.get("/account/login")
        before = visitor.cookies.get(SESSION_COOKIE)
        await sign_in(visitor, user.email)
        after = visitor.cookies[SESSION_COOKIE]
        assert before and after and before != after


async def test_a_password_change_ends_every_other_session_and_token(app: Starlette) -> None:
    user = await make_user()
    token = await token_for(user)
    async with browser(app) as here, browser(app) as elsewhere:
        await sign_in(here, user.email)
        await sign_in(elsewhere, user.email)
        page = await here.get("/account/password")
        changed = await here.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
        )
        assert changed.status_code == 303
        assert (await here.get("/account")).status_code == 200  # this browser stays in
        assert (await elsewhere.get("/account")).status_code == 303  # the other is out
        ended = await here.get("/api/v1/me", headers=bearer(token))
        assert ended.status_code == 401
        assert ended.json()["error"]["code"] == "session_ended"
    assert (await here_sessions(user)) == 1


async def here_sessions(user: User) -> int:
    return await Session.filter(user_id=user.id).count()


async def test_an_unknown_token_is_unauthorized_and_an_ended_one_session_ended(
    client: httpx.AsyncClient,
) -> None:
    unknown = await client.get("/api/v1/me", headers=bearer("sy_" + "z" * 43))
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (401, "unauthorized")
    token = await token_for(await make_user())
    assert (await client.delete("/api/v1/tokens/current", headers=bearer(token))).status_code == 204
    ended = await client.get("/api/v1/me", headers=bearer(token))
    assert (ended.status_code, ended.json()["error"]["code"]) == (401, "session_ended")


async def test_the_owner_lists_sessions_and_tokens_and_ends_one(app: Starlette) -> None:
    user = await make_user()
    token = await token_for(user)
    other_token = await token_for(user)
    async with browser(app) as phone:
        await sign_in(phone, user.email)
        listed = await phone.get("/api/v1/me/sessions", headers=bearer(token))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert {item["kind"] for item in items} == {"session", "token"}
    assert len(items) == 3
    assert [item["current"] for item in items].count(True) == 1
    session = next(item for item in items if item["kind"] == "session")
    assert session["address"].endswith(".x") or session["address"] == ""
    assert set(session) == {
        "id", "kind", "created_at", "last_seen_at", "user_agent", "address", "current", "device"
    }  # fmt: skip
    other = next(item for item in items if item["kind"] == "token" and not item["current"])
    ended = await app_client_delete(app, other["id"], token)
    assert ended.status_code == 204
    gone = await app_client_get(app, other_token)
    assert gone.json()["error"]["code"] == "session_ended"
    someone_else = await token_for(await make_user())
    assert (await app_client_delete(app, session["id"], someone_else)).status_code == 404
    assert (await app_client_delete(app, "x1", token)).status_code == 404


async def app_client_delete(app: Starlette, session_id: str, token: str) -> httpx.Response:
    async with browser(app) as http:
        return await http.delete(f"/api/v1/me/sessions/{session_id}", headers=bearer(token))


async def app_client_get(app: Starlette, token: str) -> httpx.Response:
    async with browser(app) as http:
        return await http.get("/api/v1/me", headers=bearer(token))


async def test_the_account_page_lists_this_device_and_ends_another(app: Starlette) -> None:
    user = await make_user()
    async with browser(app) as laptop, browser(app) as phone:
        await sign_in(laptop, user.email)
        await sign_in(phone, user.email)
        page = await laptop.get("/account")
        assert "本设备" in page.text
        phone_session = await Session.filter(user_id=user.id).order_by("-id").first()
        assert phone_session is not None
        ended = await laptop.post(
            f"/account/sessions/s{phone_session.id}/end",
            data={"csrf_token": csrf_from(page.text)},
        )
        assert ended.status_code == 303
        assert (await phone.get("/account")).status_code == 303
        assert (await laptop.get("/account")).status_code == 200


async def test_losing_admin_rights_counts_on_the_next_request_with_a_new_session_id(
    app: Starlette,
) -> None:
    admin = await make_user(admin=True)
    async with browser(app) as http:
        await sign_in(http, admin.email)
        assert (await http.get("/admin/catalogue")).status_code == 200
        before = http.cookies[SESSION_COOKIE]
        await User.filter(id=admin.id).update(staff_role=None, admin_flag=False)
        assert (await http.get("/admin/catalogue")).status_code == 403
        assert http.cookies[SESSION_COOKIE] != before  # rights changed: a new session id
        assert (await http.get("/account")).status_code == 200  # still signed in


async def test_last_seen_is_written_at_most_once_a_minute(app: Starlette) -> None:
    user = await make_user()
    async with browser(app) as http:
        await sign_in(http, user.email)
        session = await Session.get(user_id=user.id)
        await http.get("/account")
        assert (await Session.get(id=session.id)).last_seen_at == session.last_seen_at
        earlier = datetime.now(UTC) - TOUCH_EVERY - timedelta(seconds=1)
        await Session.filter(id=session.id).update(last_seen_at=earlier)
        await http.get("/account")
        assert (await Session.get(id=session.id)).last_seen_at > earlier


async def test_a_session_unused_past_its_idle_lifetime_is_ended(app: Starlette) -> None:
    user = await make_user()
    settings = app.state.settings
    async with browser(app) as http:
        await sign_in(http, user.email)
        long_ago = datetime.now(UTC) - timedelta(days=settings.session_idle_days, minutes=1)
        await Session.filter(user_id=user.id).update(last_seen_at=long_ago)
        assert (await http.get("/account")).status_code == 303
    assert await Session.filter(user_id=user.id).count() == 0


async def test_a_new_members_first_reply_from_the_first_page_after_joining_is_accepted(
    app: Starlette,
) -> None:
    """Becoming a member renews the session on the next page; the form on that very page
    carries the renewed session's CSRF token, so its first post is accepted (not 403)."""
    author = await make_member()
    post, _ = await board.create_post(
        author=author, category="knowledge", title="读书方法", body="先读目录。",
        counter=app.state.counter, now=datetime.now(UTC),
    )  # fmt: skip
    reader = await make_user()
    async with browser(app) as http:
        await sign_in(http, reader.email)
        before = http.cookies[SESSION_COOKIE]
        await User.filter(id=reader.id).update(member_until=datetime.now(UTC) + timedelta(days=365))
        page = await http.get(f"/board/posts/{post.id}")  # the first page after joining
        assert page.status_code == 200
        assert http.cookies[SESSION_COOKIE] != before  # rights changed: a new session
        reply = await http.post(
            f"/board/posts/{post.id}/replies",
            data={"body": "谢谢分享", "csrf_token": csrf_from(page.text)},
        )
        assert reply.status_code in (200, 303), reply.text
        assert await Reply.filter(post_id=post.id, author_id=reader.id).exists()


async def test_a_session_renewed_for_new_rights_keeps_the_moment_its_person_signed_in(
    app: Starlette,
) -> None:
    """The absolute lifetime (and a fresh sign-in's proof, accounts.leaving) count from the
    sign-in, not from the last change of rights."""
    reader = await make_user()
    async with browser(app) as http:
        await sign_in(http, reader.email)
        signed_in_at = datetime.now(UTC) - timedelta(days=3)
        await Session.filter(user_id=reader.id).update(created_at=signed_in_at)
        before = http.cookies[SESSION_COOKIE]
        await User.filter(id=reader.id).update(member_until=datetime.now(UTC) + timedelta(days=365))
        assert (await http.get("/account")).status_code == 200
        assert http.cookies[SESSION_COOKIE] != before  # rights changed: a new session
        [renewed] = await Session.filter(user_id=reader.id)
        assert renewed.created_at == signed_in_at
