"""Leaving (注销): the request proven by the password or a code, every way in ended at once but
the asking token (for its own endpoints), the undo, signing in again as the undo, a closed
account refused, the orders and the membership explained first, and an erased person named
"已注销用户" wherever names are shown."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from starlette.applications import Starlette

from accounts.models import (
    ApiToken,
    AuditEntry,
    Identity,
    IdentityKind,
    Notification,
    Session,
    User,
)
from community.board import services as board
from ratelimit import MemoryCounter
from settings import Settings
from store.models import Order, OrderStatus
from tests.factories import (
    PASSWORD,
    bearer,
    csrf_from,
    make_member,
    make_user,
    make_user_without_email,
    session_cookie,
    sign_in,
    token_for,
)

DELETION = "/api/v1/me/deletion"
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def cancel(client: httpx.AsyncClient, token: str, **body: str) -> httpx.Response:
    return await client.post(DELETION, json=body, headers=bearer(token))


def texted_code(folder: Path, phone: str) -> str:
    """The last code the SMS stand-in delivered to `phone` (11 digits)."""
    found = [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*.json"))]
    texts = [m["text"] for m in found if m["phone"] == phone]
    assert texts, f"no text message reached {phone}"
    match = re.search(r"(\d{6})", texts[-1])
    assert match, texts[-1]
    return match.group(1)


async def test_the_right_password_cancels_and_ends_every_other_session_and_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await make_user()
    asking, other = await token_for(user), await token_for(user)
    name, key = await session_cookie(user)
    before = datetime.now(UTC)
    answer = await cancel(client, asking, password=PASSWORD)
    assert answer.status_code == 202, answer.text
    erase_after = datetime.fromisoformat(answer.json()["erase_after"])
    expected = before + timedelta(days=settings.leaving_days)
    assert expected <= erase_after <= expected + timedelta(minutes=1)
    assert (await User.get(id=user.id)).erase_after == erase_after
    assert not await Session.filter(user_id=user.id).exists()
    assert (await client.get("/api/v1/me", headers=bearer(other))).status_code == 401
    client.cookies.set(name, key)
    assert (await client.get("/account")).status_code == 303  # to the sign-in page
    client.cookies.clear()
    # The asking token: its cancellation's endpoints only.
    refused = await client.get("/api/v1/me", headers=bearer(asking))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "account_leaving"
    state = await client.get(DELETION, headers=bearer(asking))
    assert state.status_code == 200
    assert state.json()["erase_after"] == answer.json()["erase_after"]
    entry = await AuditEntry.get(action="account.leave")
    assert (entry.object_id, entry.actor_id) == (str(user.id), user.id)  # type: ignore[attr-defined]
    assert await Notification.filter(user_id=user.id, kind="leaving").exists()


async def test_a_wrong_password_is_refused_and_nothing_ends(client: httpx.AsyncClient) -> None:
    user = await make_user()
    token = await token_for(user)
    answer = await cancel(client, token, password="not the password")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "wrong_proof"
    assert (await User.get(id=user.id)).erase_after is None
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200


async def test_an_account_without_a_password_proves_it_with_a_code_texted_to_its_phone(
    client: httpx.AsyncClient, sms_gateway: tuple[str, Path]
) -> None:
    user = await make_user_without_email()
    token = await token_for(user)
    assert (await cancel(client, token)).json()["error"]["code"] == "wrong_proof"
    sent = await client.post(f"{DELETION}/code", headers=bearer(token))
    assert sent.status_code == 202, sent.text
    assert sent.json()["sent_to"] == "sms"
    phone = (await user.identities.all())[0].subject.removeprefix("+86")  # type: ignore[attr-defined]
    code = texted_code(sms_gateway[1], phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert (await cancel(client, token, code=wrong)).status_code == 403
    answer = await cancel(client, token, code=code)
    assert answer.status_code == 202, answer.text
    assert (await User.get(id=user.id)).erase_after is not None


async def test_a_code_is_not_offered_to_an_account_with_a_password(
    client: httpx.AsyncClient,
) -> None:
    token = await token_for(await make_user())
    answer = await client.post(f"{DELETION}/code", headers=bearer(token))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "password_proves"


async def test_delete_undoes_it_and_the_asking_token_works_everywhere_again(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user()
    token = await token_for(user)
    assert (await cancel(client, token, password=PASSWORD)).status_code == 202
    undone = await client.delete(DELETION, headers=bearer(token))
    assert undone.status_code == 200, undone.text
    assert undone.json() == {"erase_after": None}
    assert (await User.get(id=user.id)).erase_after is None
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    again = await client.delete(DELETION, headers=bearer(token))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_leaving"


async def test_signing_in_again_on_the_page_undoes_it_and_says_so(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user()
    assert (await cancel(client, await token_for(user), password=PASSWORD)).status_code == 202
    signed_in = await sign_in(client, user.email or "")
    assert signed_in.status_code == 303
    page = await client.get(signed_in.headers["location"])
    assert "欢迎回来" in page.text
    assert (await User.get(id=user.id)).erase_after is None
    assert await AuditEntry.filter(action="account.stay").exists()


async def test_a_new_api_token_undoes_it_and_says_so(client: httpx.AsyncClient) -> None:
    user = await make_user()
    asking = await token_for(user)
    assert (await cancel(client, asking, password=PASSWORD)).status_code == 202
    answer = await client.post("/api/v1/tokens", json={"email": user.email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    assert answer.json()["came_back"] is True
    assert (await User.get(id=user.id)).erase_after is None
    # The token kept for the cancellation ends with it: the new one is the way in.
    assert (await client.get("/api/v1/me", headers=bearer(asking))).status_code == 401


async def test_after_the_cooling_off_signing_in_is_refused_as_a_wrong_password(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user()
    token = await token_for(user)
    assert (await cancel(client, token, password=PASSWORD)).status_code == 202
    await User.filter(id=user.id).update(erase_after=datetime.now(UTC) - timedelta(minutes=1))
    answer = await client.post("/api/v1/tokens", json={"email": user.email, "password": PASSWORD})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "bad_credentials"
    assert (await client.get(DELETION, headers=bearer(token))).status_code == 401
    assert (await client.delete(DELETION, headers=bearer(token))).status_code == 401
    page = await sign_in(client, user.email or "")
    assert page.status_code == 401
    assert (await User.get(id=user.id)).erase_after is not None


async def test_paid_orders_not_yet_delivered_refuse_it_listing_them(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user()
    hold = datetime.now(UTC) + timedelta(minutes=10)
    owed = await Order.create(
        user=user, status=OrderStatus.SHIPPED, total_fen=990, hold_expires_at=hold
    )
    await Order.create(user=user, status=OrderStatus.DELIVERED, total_fen=100, hold_expires_at=hold)
    token = await token_for(user)
    state = (await client.get(DELETION, headers=bearer(token))).json()
    assert state["owed_orders"] == [owed.id]
    answer = await cancel(client, token, password=PASSWORD)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "open_orders"
    assert answer.json()["error"]["orders"] == [str(owed.id)]
    assert (await User.get(id=user.id)).erase_after is None
    client.cookies.set(*await session_cookie(user))
    page = await client.get("/me/leave")
    assert 'id="owed-orders"' in page.text
    assert 'name="confirm"' not in page.text  # no form until they are delivered or refunded


async def test_orders_held_and_unpaid_are_given_back_when_the_account_is_cancelled(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user()
    held = await Order.create(
        user=user, total_fen=990, hold_expires_at=datetime.now(UTC) + timedelta(minutes=10)
    )
    token = await token_for(user)
    assert (await client.get(DELETION, headers=bearer(token))).json()["held_orders"] == [held.id]
    assert (await cancel(client, token, password=PASSWORD)).status_code == 202
    assert (await Order.get(id=held.id)).status == OrderStatus.CANCELLED


async def test_the_page_explains_a_forfeited_membership_and_asks_for_the_confirmation(
    client: httpx.AsyncClient,
) -> None:
    member = await make_member(days=200)
    client.cookies.set(*await session_cookie(member))
    page = await client.get("/me/leave")
    assert page.status_code == 200
    assert 'id="membership-forfeited"' in page.text
    form = {"csrf_token": csrf_from(page.text), "password": PASSWORD}
    unconfirmed = await client.post("/me/leave", data=form)
    assert unconfirmed.status_code == 422
    assert (await User.get(id=member.id)).erase_after is None
    done = await client.post("/me/leave", data={**form, "confirm": "yes"})
    assert done.status_code == 303
    assert done.headers["location"] == "/me/leave/done"
    erase_after = (await User.get(id=member.id)).erase_after
    assert erase_after is not None
    told = await client.get("/me/leave/done")
    assert 'id="left"' in told.text
    assert erase_after.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in told.text
    assert (await client.get("/account")).status_code == 303  # signed out


async def test_the_account_page_links_to_leaving(client: httpx.AsyncClient) -> None:
    client.cookies.set(*await session_cookie(await make_user()))
    assert 'href="/me/leave"' in (await client.get("/account")).text


async def test_an_erased_persons_posts_and_profile_show_a_deleted_account(
    client: httpx.AsyncClient,
) -> None:
    author = await make_member(name="林夕")
    post, _ = await board.create_post(
        author=author, category="knowledge", title="读书方法", body="先读目录。",
        counter=MemoryCounter(), now=datetime.now(UTC),
    )  # fmt: skip
    await User.filter(id=author.id).update(erased_at=datetime.now(UTC))
    client.cookies.set(*await session_cookie(await make_member()))
    shown = await client.get(f"/board/posts/{post.id}")
    assert "已注销用户" in shown.text
    assert "林夕" not in shown.text
    profile = await client.get(f"/people/{author.id}")
    assert "已注销用户" in profile.text
    assert 'id="account-cancelled"' in profile.text
    assert (await client.get("/people/@林夕")).status_code == 404


async def test_a_session_of_a_leaving_account_is_refused(client: httpx.AsyncClient) -> None:
    user = await make_user()
    name, key = await session_cookie(user)
    await User.filter(id=user.id).update(erase_after=datetime.now(UTC) + timedelta(days=3))
    client.cookies.set(name, key)
    assert (await client.get("/account")).status_code == 303


async def test_the_asking_token_is_revoked_for_every_other_reader_of_tokens(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    user = await make_user()
    token = await token_for(user)
    assert (await cancel(client, token, password=PASSWORD)).status_code == 202
    row = await ApiToken.get(user_id=user.id)
    assert row.revoked_at is not None  # accounts_token_owner (PostgreSQL) reads it as ended


async def _wechat_only_user() -> User:
    """An account made by signing in with WeChat: no password, address or phone number."""
    user = await User.create(email=None, display_name="微信书友")
    await Identity.create(
        user=user, kind=IdentityKind.WECHAT, subject="o-unionid-leaving", label="微信书友",
        created_at=user.created_at,
    )  # fmt: skip
    return user


async def test_a_wechat_only_account_proves_it_by_a_fresh_wechat_sign_in(
    client: httpx.AsyncClient,
) -> None:
    user = await _wechat_only_user()
    token = await token_for(user)  # made by signing in just now
    state = await client.get(DELETION, headers=bearer(token))
    assert state.json()["proof"] == "sign_in"
    answer = await cancel(client, token)
    assert answer.status_code == 202, answer.text
    assert (await User.get(id=user.id)).erase_after is not None


async def test_a_wechat_only_account_signed_in_long_ago_is_asked_to_sign_in_again(
    client: httpx.AsyncClient,
) -> None:
    user = await _wechat_only_user()
    token = await token_for(user)
    await ApiToken.filter(user_id=user.id).update(
        created_at=datetime.now(UTC) - timedelta(minutes=11)
    )
    answer = await cancel(client, token)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "sign_in_again"
    assert (await User.get(id=user.id)).erase_after is None
    # Nothing to send a code to: the way is signing in again.
    sent = await client.post(f"{DELETION}/code", headers=bearer(token))
    assert sent.status_code == 409 and sent.json()["error"]["code"] == "no_way_to_prove"


async def test_the_page_sends_a_wechat_only_account_to_sign_in_again_then_takes_it(
    client: httpx.AsyncClient,
) -> None:
    user = await _wechat_only_user()
    name, key = await session_cookie(user)
    client.cookies.set(name, key)
    await Session.filter(user_id=user.id).update(
        created_at=datetime.now(UTC) - timedelta(minutes=30)
    )
    page = await client.get("/me/leave")
    assert "/account/wechat/start?next=" in page.text
    assert 'name="code"' not in page.text
    csrf = csrf_from((await client.get("/account")).text)  # this page has no form now
    refused = await client.post("/me/leave", data={"csrf_token": csrf, "confirm": "yes"})
    assert refused.status_code in (400, 403, 409, 422)
    assert (await User.get(id=user.id)).erase_after is None
    # Signed in again just now (a new session, as WeChat's sign-in makes): the form takes it.
    client.cookies.clear()
    name, key = await session_cookie(user)
    client.cookies.set(name, key)
    page = await client.get("/me/leave")
    assert "/account/wechat/start?next=" not in page.text
    done = await client.post(
        "/me/leave", data={"csrf_token": csrf_from(page.text), "confirm": "yes"}
    )
    assert done.status_code == 303, done.text
    assert (await User.get(id=user.id)).erase_after is not None


async def test_nobody_may_take_the_name_an_erased_account_is_shown_by(
    client: httpx.AsyncClient,
) -> None:
    token = bearer(await token_for(await make_user()))
    for name in ("已注销用户", "Deleted account", "已注销 用户"):
        refused = await client.patch("/api/v1/me", json={"display_name": name}, headers=token)
        assert refused.status_code == 422, name
        assert refused.json()["error"]["field"] == "display_name"
