"""A staff answer reaches its member by mail through a real SMTP server (aiosmtpd in its own
process), by default, since they asked; and not when they chose the inbox only."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from accounts import notices, outbox
from accounts.mail import Mailer
from accounts.models import NoticeChannel, Notification, User
from tests.factories import bearer, make_user, sign_in, token_for
from tests.smtp import SmtpServer, subject_of, text_of, to_of


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "Maildir")
    server.start()
    yield server
    server.stop()


async def deliver(smtp: SmtpServer) -> None:
    """What the outbox job does every few seconds, at once."""
    await outbox.deliver_due(Mailer(smtp.url, "noreply@shuyuan.test"), now=datetime.now(UTC))


def answers_to(smtp: SmtpServer, address: str) -> list[mailbox.MaildirMessage]:
    """The mails to `address`, the registration's verification aside."""
    return [
        m
        for m in smtp.received()
        if to_of(m) == address
        and subject_of(m) not in ("验证你的邮箱地址", "Verify your email address")
    ]


async def verified_member(email: str, *, locale: str = "zh_CN") -> User:
    user = await make_user(email=email)
    user.email_verified_at = datetime.now(UTC)
    user.locale = locale
    await user.save(update_fields=["email_verified_at", "locale"])
    return user


async def ask_and_answer(client: httpx.AsyncClient, member: User) -> int:
    """The member writes through the API; a support staffer answers. The conversation's id."""
    started = await client.post(
        "/api/v1/conversations",
        json={"body": "请问会员可以开发票吗？"},
        headers=bearer(await token_for(member)),
    )
    conversation_id = int(started.json()["id"])
    staff = bearer(await token_for(await make_user(role="support")))
    answered = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": "可以。付款后把抬头和税号发给我们，三个工作日内开出电子发票。"},
        headers=staff,
    )
    assert answered.status_code == 201
    return conversation_id


async def test_an_answer_reaches_the_member_s_inbox_and_a_real_mail_server(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    member = await verified_member("asker@example.cn")
    conversation_id = await ask_and_answer(client, member)
    [notice] = await Notification.filter(user_id=member.id, kind="support_reply")
    assert notice.link == f"/contact/{conversation_id}"
    inbox = await client.get("/api/v1/notifications", headers=bearer(await token_for(member)))
    assert "客服回复了你" in inbox.text
    await deliver(smtp)
    [mail] = answers_to(smtp, "asker@example.cn")
    assert subject_of(mail) == "客服回复了你"
    text = text_of(mail)
    assert "可以。付款后把抬头和税号发给我们" in text
    assert f"http://testserver/contact/{conversation_id}" in text


async def test_a_member_who_chose_the_inbox_only_gets_no_mail(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    member = await verified_member("quiet@example.cn")
    await notices.choose(member, "support_reply", NoticeChannel.INBOX.value)
    await ask_and_answer(client, member)
    assert await Notification.filter(user_id=member.id, kind="support_reply").count() == 1
    await deliver(smtp)
    assert answers_to(smtp, "quiet@example.cn") == []


async def test_answers_come_by_mail_unless_the_member_chooses_otherwise_on_the_notices_page(
    client: httpx.AsyncClient,
) -> None:
    member = await verified_member("chooser@example.cn")
    token = bearer(await token_for(member))
    choices = (await client.get("/api/v1/me/notices", headers=token)).json()["items"]
    assert {"kind": "support_reply", "channel": "inbox_mail"} in choices
    await sign_in(client, member.email)
    page = await client.get("/account/notices")
    assert "客服的回复" in page.text
