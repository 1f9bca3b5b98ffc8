"""An account without an email (made with WeChat or a phone number): notices come to its
inbox, mail is offered once an address is added and verified, and its pages open."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette

from accounts import notices
from accounts.models import NoticeChannel, Notification, OutboxMessage, User
from membership.grants import grant_complimentary, send_renewal_reminders
from tests.factories import make_user, make_user_without_email, session_cookie

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_a_notice_chosen_by_mail_reaches_the_inbox_and_sends_no_mail() -> None:
    user = await make_user_without_email()
    await notices.choose(user, "welcome", NoticeChannel.INBOX_AND_MAIL.value)
    told = await notices.notify(user.id, kind="welcome", params={"name": "书友"}, now=NOW)
    assert told is not None
    assert await OutboxMessage.all().count() == 0


async def test_the_renewal_reminder_job_runs_with_a_member_without_email() -> None:
    admin = await make_user(admin=True)
    user = await make_user_without_email()
    await grant_complimentary(user_id=user.id, days=3, now=NOW, actor=admin)
    with_email = await make_user()
    await grant_complimentary(user_id=with_email.id, days=3, now=NOW, actor=admin)
    await (
        User.filter(email_verified_at__isnull=True)
        .exclude(email=None)
        .update(email_verified_at=NOW)
    )
    assert await send_renewal_reminders(now=NOW + timedelta(hours=1)) == 2
    reminded = await Notification.filter(kind="renewal_reminder").values_list("user_id", flat=True)
    assert sorted(reminded) == sorted([user.id, with_email.id])
    # The member with a verified address is mailed; the one without is not, and nothing broke.
    assert await OutboxMessage.filter(recipient=with_email.email).count() >= 1
    assert (
        await OutboxMessage.filter(subject__contains="会员")
        .exclude(recipient=with_email.email)
        .count()
        == 0
    )


async def test_the_notices_page_says_mail_waits_for_an_address(app: Starlette) -> None:
    user = await make_user_without_email()
    async with browser(app) as client:
        client.cookies.set(*await session_cookie(user))
        page = await client.get("/account/notices")
    assert page.status_code == 200
    assert "你还没有邮箱" in page.text
    mail_choices = re.findall(r'<input[^>]*value="inbox_mail"[^>]*>', page.text)
    assert mail_choices
    assert all(" disabled" in choice for choice in mail_choices)


async def test_the_password_page_of_an_account_without_one_offers_to_add_an_email(
    app: Starlette,
) -> None:
    user = await make_user_without_email()
    async with browser(app) as client:
        client.cookies.set(*await session_cookie(user))
        page = await client.get("/account/password")
    assert page.status_code == 200
    assert 'href="/account/email"' in page.text
    assert 'name="current_password"' not in page.text


async def test_the_account_page_shows_no_email_without_a_none(app: Starlette) -> None:
    user = await make_user_without_email()
    async with browser(app) as client:
        client.cookies.set(*await session_cookie(user))
        page = await client.get("/account")
    assert page.status_code == 200
    assert "无邮箱" in page.text
    assert "None" not in page.text
