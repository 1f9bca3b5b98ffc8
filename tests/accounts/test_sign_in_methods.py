"""The ways into one account (accounts.sign_in_methods): listed in a fixed order, added, and
removed, never the last one; the page and the API are the same rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from accounts import resets, sign_in_methods
from accounts.errors import EmailTaken, HasPassword, LastSignInMethod, SignInMethodNotFound
from accounts.models import (
    Identity,
    IdentityKind,
    Notification,
    OutboxMessage,
    PhoneAddress,
    User,
)
from errors import ValidationError
from tests.factories import (
    PASSWORD,
    bearer,
    csrf_from,
    make_user,
    make_user_without_email,
    session_cookie,
    sign_in,
    token_for,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def add_wechat(user: User, nickname: str = "小雨") -> Identity:
    return await Identity.create(
        user=user,
        kind=IdentityKind.WECHAT,
        subject=f"union-{user.id}",
        label=nickname,
        created_at=NOW,
    )


async def test_methods_are_listed_in_a_fixed_order() -> None:
    user = await make_user_without_email()
    await add_wechat(user)
    assert await sign_in_methods.methods(user) == ["wechat", "phone"]
    await sign_in_methods.add_email_and_password(user, "ways@example.cn", PASSWORD, now=NOW)
    assert await sign_in_methods.methods(user) == ["password", "wechat", "phone"]


async def test_removing_the_last_way_in_is_refused() -> None:
    user = await make_user_without_email()
    with pytest.raises(LastSignInMethod):
        await sign_in_methods.remove(user, "phone", now=NOW)
    assert await sign_in_methods.methods(user) == ["phone"]


async def test_removing_the_only_password_is_refused() -> None:
    user = await make_user()
    with pytest.raises(LastSignInMethod):
        await sign_in_methods.remove(user, "password", now=NOW)


async def test_removing_a_way_the_account_lacks_is_not_found() -> None:
    user = await make_user()
    with pytest.raises(SignInMethodNotFound):
        await sign_in_methods.remove(user, "wechat", now=NOW)


async def test_removing_the_password_keeps_the_email_and_tells_the_inbox() -> None:
    user = await make_user()
    await add_wechat(user)
    await sign_in_methods.remove(user, "password", now=NOW)
    stored = await User.get(id=user.id)
    assert stored.email == user.email
    assert not stored.has_password
    assert await sign_in_methods.methods(stored) == ["wechat"]
    told = await Notification.get(user_id=user.id, kind="sign_in_removed")
    assert told.params == {"what": user.email}


async def test_a_number_given_up_takes_its_known_addresses_with_it() -> None:
    """The addresses that signed in to a number are exempt from its send limits; once the
    number leaves the account (it may be someone else's next year), they are not."""
    user = await make_user()
    [identity] = await Identity.filter(user_id=(await make_user_without_email()).id)
    await Identity.filter(id=identity.id).update(user_id=user.id)
    await PhoneAddress.create(phone=identity.subject, address_hash="a" * 64, last_at=NOW)
    await PhoneAddress.create(phone="+8613999999999", address_hash="a" * 64, last_at=NOW)
    await sign_in_methods.remove(user, "phone", now=NOW)
    assert await PhoneAddress.all().values_list("phone", flat=True) == ["+8613999999999"]


async def test_an_email_and_password_are_added_verified_by_mail_and_told() -> None:
    user = await make_user_without_email()
    await sign_in_methods.add_email_and_password(user, " New@Example.cn ", PASSWORD, now=NOW)
    stored = await User.get(id=user.id)
    assert stored.email == "new@example.cn"
    assert stored.has_password
    assert stored.email_verified_at is None
    assert await OutboxMessage.filter(recipient="new@example.cn").count() == 1
    assert await Notification.filter(user_id=user.id, kind="sign_in_added").count() == 1


async def test_an_address_of_another_account_is_refused() -> None:
    other = await make_user()
    user = await make_user_without_email()
    with pytest.raises(EmailTaken):
        await sign_in_methods.add_email_and_password(user, other.email or "", PASSWORD, now=NOW)


async def test_an_account_with_a_password_cannot_add_another() -> None:
    user = await make_user()
    with pytest.raises(HasPassword):
        await sign_in_methods.add_email_and_password(user, "x@example.cn", PASSWORD, now=NOW)


async def test_the_account_page_lists_the_ways_in_and_refuses_removing_the_last(
    app: Starlette,
) -> None:
    user = await make_user_without_email()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        client.cookies.set(*await session_cookie(user))
        page = await client.get("/account")
        assert page.status_code == 200
        assert "138****" in page.text
        assert 'href="/account/email"' in page.text
        assert 'action="/account/wechat/start"' in page.text  # a form: another site cannot start it
        refused = await client.post(
            "/account/sign-in-methods/phone/remove", data={"csrf_token": csrf_from(page.text)}
        )
        # Refused like every form: back to the page, the reason shown there.
        assert refused.status_code == 303
        shown = await client.get(refused.headers["location"])
    assert "flash-error" in shown.text
    assert "这是你唯一的登录方式" in shown.text
    assert await sign_in_methods.methods(user) == ["phone"]


async def test_the_email_page_adds_an_email_and_password_that_then_sign_in(
    app: Starlette,
) -> None:
    user = await make_user_without_email()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        client.cookies.set(*await session_cookie(user))
        form = await client.get("/account/email")
        added = await client.post(
            "/account/email",
            data={
                "email": "added@example.cn",
                "password": PASSWORD,
                "csrf_token": csrf_from(form.text),
            },
        )
    assert added.status_code == 303
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as fresh:
        signed_in = await sign_in(fresh, "added@example.cn")
    assert signed_in.status_code == 303


async def test_the_api_shows_a_null_email_and_the_ways_in(client: httpx.AsyncClient) -> None:
    user = await make_user_without_email()
    me = await client.get("/api/v1/me", headers=bearer(await token_for(user)))
    assert me.status_code == 200
    assert me.json()["email"] is None
    assert me.json()["sign_in_methods"] == ["phone"]


async def test_the_api_removes_a_way_in_but_not_the_last(client: httpx.AsyncClient) -> None:
    user = await make_user()
    await add_wechat(user)
    headers = bearer(await token_for(user))
    removed = await client.delete("/api/v1/me/sign-in-methods/wechat", headers=headers)
    assert removed.status_code == 204
    last = await client.delete("/api/v1/me/sign-in-methods/password", headers=headers)
    assert last.status_code == 409
    assert last.json()["error"]["code"] == "last_sign_in_method"


async def test_a_removed_password_is_set_again_for_the_same_address_only() -> None:
    user = await make_user()
    await add_wechat(user)
    await sign_in_methods.remove(user, "password", now=NOW)
    with pytest.raises(ValidationError):
        await sign_in_methods.add_email_and_password(user, "other@example.cn", PASSWORD, now=NOW)
    await sign_in_methods.add_email_and_password(user, user.email or "", PASSWORD, now=NOW)
    assert await sign_in_methods.methods(await User.get(id=user.id)) == ["password", "wechat"]


async def _reset_through_the_mailbox(user: User, password: str) -> None:
    """What the address's owner does: the reset link mailed to it, opened."""
    now = datetime.now(UTC)
    await resets.send_reset_link(user, "zh_CN", now)
    mail = await OutboxMessage.filter(recipient=user.email).order_by("-id").first()
    assert mail is not None
    token = re.search(r"/account/reset/([A-Za-z0-9_-]+)", mail.text)
    assert token is not None
    await resets.reset_password(token=token.group(1), password=password, now=now)


async def test_a_reset_that_first_proves_the_address_drops_the_ways_in_added_before() -> None:
    """Someone registers (or adds) an address that is not theirs, then links their own WeChat:
    when the address's owner resets the password through the mailbox, the account is theirs
    without that WeChat, and they are told what went."""
    squatted = await make_user(email="victim@example.cn")
    assert squatted.email_verified_at is None
    await Identity.create(
        user=squatted,
        kind=IdentityKind.WECHAT,
        subject="o-attackers-unionid",
        label="attacker",
        created_at=squatted.created_at + timedelta(hours=1),  # linked after registering
    )
    await _reset_through_the_mailbox(squatted, "a-new-and-long-passphrase-42")
    assert not await Identity.filter(user_id=squatted.id).exists()
    assert await sign_in_methods.methods(await User.get(id=squatted.id)) == ["password"]
    assert (await User.get(id=squatted.id)).email_verified_at is not None
    told = await Notification.filter(user_id=squatted.id, kind="sign_in_removed").values_list(
        "params", flat=True
    )
    assert told == [{"what": "WeChat attacker"}]


async def test_an_unproved_address_of_an_account_made_with_a_phone_gets_no_reset_link() -> None:
    """An account made with a phone adds an address (a typo: someone else's) that is never
    proved: its owner must not be able to set a password to the account. No link is mailed;
    the account's owner signs in with the phone and proves the address from the account page."""
    made = await make_user_without_email()
    await sign_in_methods.add_email_and_password(
        made, "typo@example.cn", "a-long-enough-passphrase-7", now=datetime.now(UTC)
    )
    await resets.send_reset_link(await User.get(id=made.id), "zh_CN", datetime.now(UTC))
    mails = await OutboxMessage.filter(recipient="typo@example.cn").values_list("text", flat=True)
    assert mails and not [text for text in mails if "/account/reset/" in text]
    assert await sign_in_methods.methods(await User.get(id=made.id)) == ["password", "phone"]


async def test_a_reset_of_a_proved_address_keeps_the_ways_in() -> None:
    owner = await make_user(email="owner@example.cn")
    owner.email_verified_at = datetime.now(UTC)
    await owner.save(update_fields=["email_verified_at"])
    await Identity.create(
        user=owner,
        kind=IdentityKind.PHONE,
        subject="+8613900000040",
        label="139****0040",
        created_at=owner.created_at + timedelta(hours=1),
    )
    await _reset_through_the_mailbox(owner, "a-new-and-long-passphrase-43")
    assert await sign_in_methods.methods(await User.get(id=owner.id)) == ["password", "phone"]
