"""A staff answer reaches its member's inbox, and by mail through a real SMTP server (aiosmtpd
in its own process) when they chose it: the box "also email me the answer" on the message
forms (ticked for a new conversation), or the notices page. The API keeps their choice."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from accounts import notices, outbox
from accounts.mail import Mailer
from accounts.models import NoticeChannel, Notification, User
from tests.factories import bearer, csrf_from, make_user, sign_in, token_for
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


async def answer(client: httpx.AsyncClient, conversation_id: int) -> None:
    """A support staffer answers through the API."""
    staff = bearer(await token_for(await make_user(role="support")))
    answered = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": "可以。付款后把抬头和税号发给我们，三个工作日内开出电子发票。"},
        headers=staff,
    )
    assert answered.status_code == 201


async def ask_and_answer(client: httpx.AsyncClient, member: User) -> int:
    """The member writes through the API; a support staffer answers. The conversation's id."""
    started = await client.post(
        "/api/v1/conversations",
        json={"body": "请问会员可以开发票吗？"},
        headers=bearer(await token_for(member)),
    )
    conversation_id = int(started.json()["id"])
    await answer(client, conversation_id)
    return conversation_id


def box_ticked(page: str) -> bool:
    """Whether the page's box "also email me the answer" is ticked."""
    match = re.search(r'<input type="checkbox" name="email_me"[^>]*>', page)
    assert match, "the page has no box"
    return " checked" in match.group(0)


async def ask_on_the_page(client: httpx.AsyncClient, member: User, *, email_me: bool) -> int:
    """The member writes from the contact form, the box ticked or left empty (a browser
    then sends no field). The conversation's id."""
    await sign_in(client, member.email)
    form = await client.get("/contact")
    assert box_ticked(form.text)  # a new conversation: ticked
    sent = await client.post(
        "/contact",
        data={
            "csrf_token": csrf_from(form.text),
            "body": "请问会员可以开发票吗？",
            **({"email_me": "yes"} if email_me else {}),
        },
        files={"picture": ("", b"", "application/octet-stream")},
    )
    assert sent.status_code == 303
    return int(sent.headers["location"].rsplit("/", 1)[1])


async def test_a_member_who_ticks_the_box_gets_the_answer_in_the_inbox_and_a_real_mail_server(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    member = await verified_member("asker@example.cn")
    conversation_id = await ask_on_the_page(client, member, email_me=True)
    await answer(client, conversation_id)
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


async def test_a_member_who_leaves_the_box_empty_gets_the_answer_in_the_inbox_only(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    member = await verified_member("quiet@example.cn")
    conversation_id = await ask_on_the_page(client, member, email_me=False)
    await answer(client, conversation_id)
    assert await Notification.filter(user_id=member.id, kind="support_reply").count() == 1
    await deliver(smtp)
    assert answers_to(smtp, "quiet@example.cn") == []
    assert await notices.channel_for(member.id, "support_reply") == NoticeChannel.INBOX


async def test_the_reply_form_s_box_shows_the_choice_and_records_a_change(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    member = await verified_member("replier@example.cn")
    conversation_id = await ask_on_the_page(client, member, email_me=True)
    thread = await client.get(f"/contact/{conversation_id}")
    assert box_ticked(thread.text)  # their choice as it stands
    again = await client.post(
        f"/contact/{conversation_id}/messages",
        data={"csrf_token": csrf_from(thread.text), "body": "补充：抬头是公司"},
        files={"picture": ("", b"", "application/octet-stream")},
    )
    assert again.status_code == 303
    thread = await client.get(f"/contact/{conversation_id}")
    assert not box_ticked(thread.text)  # left empty: no more mail
    await answer(client, conversation_id)
    await deliver(smtp)
    assert answers_to(smtp, "replier@example.cn") == []


async def test_through_the_api_answers_come_to_the_inbox_only_unless_the_member_chose_mail(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    member = await verified_member("api@example.cn")
    await ask_and_answer(client, member)
    await deliver(smtp)
    assert answers_to(smtp, "api@example.cn") == []
    await notices.choose(member, "support_reply", NoticeChannel.INBOX_AND_MAIL.value)
    await ask_and_answer(client, member)  # the API keeps the choice as it stands
    await deliver(smtp)
    assert len(answers_to(smtp, "api@example.cn")) == 1


async def test_answers_come_to_the_inbox_only_unless_chosen_otherwise_on_the_notices_page(
    client: httpx.AsyncClient,
) -> None:
    member = await verified_member("chooser@example.cn")
    token = bearer(await token_for(member))
    choices = (await client.get("/api/v1/me/notices", headers=token)).json()["items"]
    assert {"kind": "support_reply", "channel": "inbox"} in choices
    await sign_in(client, member.email)
    page = await client.get("/account/notices")
    assert "客服的回复" in page.text
