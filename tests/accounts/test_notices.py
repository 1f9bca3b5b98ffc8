"""Email as a real channel, through a real SMTP server (aiosmtpd in its own process): address
verification, receipts, shipped and delivered notices, mentions by mail for whoever chose them,
one-click unsubscribe (RFC 8058), enrollment-opening notices, a mail server that is down; and
notices in the reader's language, switched and read again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from accounts import notices, outbox
from accounts.mail import Mailer
from accounts.models import NoticeChannel, Notification, OutboxMessage, OutboxState, User
from community.board import services as board
from membership import reminders, windows
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.memory import StoreMemory
from tests.factories import (
    address,
    bearer,
    card_payment_method,
    make_member,
    make_user,
    sign_in,
    token_for,
)
from tests.smtp import SmtpServer, subject_of, text_of, to_of

VERIFY_LINK = re.compile(r"https?://\S+/account/verify/(\S+)")


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "Maildir")
    server.start()
    yield server
    server.stop()


async def deliver(smtp: SmtpServer, *, now: datetime | None = None) -> None:
    """What the outbox job does every few seconds, at once."""
    await outbox.deliver_due(Mailer(smtp.url, "noreply@shuyuan.test"), now=now or datetime.now(UTC))


VERIFICATION = ("Verify your email address", "验证你的邮箱地址")


def mails_to(smtp: SmtpServer, address_: str) -> list[tuple[str, str]]:
    """(subject, text) of each mail to `address_`, the registration's verification aside."""
    return [
        (subject_of(m), text_of(m))
        for m in smtp.received()
        if to_of(m) == address_ and subject_of(m) not in VERIFICATION
    ]


async def verified_user(email: str, *, locale: str = "en", name: str | None = None) -> User:
    user = await make_user(email=email, name=name)
    user.email_verified_at = datetime.now(UTC)
    user.locale = locale
    await user.save(update_fields=["email_verified_at", "locale"])
    return user


async def test_registering_mails_a_link_that_verifies_the_address(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    created = await client.post(
        "/api/v1/accounts",
        json={
            "email": "new@example.cn",
            "password": "a long enough passphrase",
            "display_name": "新人",
        },
        headers={"Accept-Language": "en"},
    )
    assert created.status_code == 201
    await deliver(smtp)
    [mail] = [m for m in smtp.received() if to_of(m) == "new@example.cn"]
    assert subject_of(mail) == "Verify your email address"  # the language they registered in
    text = text_of(mail)
    match = VERIFY_LINK.search(text)
    assert match, text
    user = await User.get(email="new@example.cn")
    assert user.email_verified_at is None and user.locale == "en"

    tampered = await client.get(f"/account/verify/{match.group(1)[:-3]}xyz")
    assert tampered.status_code == 404
    page = await client.get(f"/account/verify/{match.group(1)}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "verified" in page.text
    assert (await User.get(id=user.id)).email_verified_at is not None
    assert (await client.get(f"/account/verify/{match.group(1)}")).status_code == 200  # again

    # The API twin, and asking again: at most one more mail an hour.
    token = await token_for(user)
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.json()["email_verified"] is True
    assert (await client.post(f"/api/v1/email-verifications/{match.group(1)}")).status_code == 204
    bad = await client.post("/api/v1/email-verifications/nonsense")
    assert bad.status_code == 404
    assert bad.json()["error"]["code"] == "verification_not_found"


async def test_a_receipt_a_shipped_and_a_delivered_notice_by_mail(
    app: Starlette, settings: Settings, smtp: SmtpServer
) -> None:
    buyer = await verified_user("buyer@example.cn", locale="en")
    unverified = await make_user(email="quiet@example.cn")
    product = await store.create_product(
        title="书院帆布袋", description="", category="逼格工场", price_fen=9_900, stock=5
    )
    orders = []
    for person in (buyer, unverified):
        order = await store.place_order(
            buyer=person,
            items=[store.Wanted(product_id=product.id, quantity=1)],
            now=datetime.now(UTC),
            counter=MemoryCounter(),
            memory=StoreMemory(),
            shipping=address(),
        )
        await store.pay_order(
            provider=app.state.payments_provider,
            order_id=order.id,
            user=person,
            choice=PaymentChoice(
                payment_method=await card_payment_method(settings, "4242424242424242")
            ),
            now=datetime.now(UTC),
        )
        orders.append(order)
    await store.mark_shipped(order_id=orders[0].id, carrier="sf", tracking_number="SF1234567890")
    await store.mark_delivered(order_id=orders[0].id)
    await deliver(smtp)

    received = dict(mails_to(smtp, "buyer@example.cn"))  # a Maildir keeps no order
    receipt = received.pop(f"Receipt for order #{orders[0].id}")
    assert "¥99.00" in receipt and f"/store/orders/{orders[0].id}" in receipt
    assert "SF1234567890" in received.pop(f"Order #{orders[0].id} has shipped")
    assert received.pop(f"Order #{orders[0].id} was delivered")
    assert received == {}
    # No mail to an address never verified (only the verification link), yet the inbox has it.
    assert mails_to(smtp, "quiet@example.cn") == []
    assert await Notification.filter(user_id=unverified.id, kind="order_paid").exists()


async def test_a_mention_is_mailed_only_to_whoever_chose_it_and_unsubscribe_stops_it(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    author = await make_member(email="author@example.cn", name="作者")
    wants_mail = await verified_user("mailme@example.cn", name="爱收信")
    inbox_only = await verified_user("inbox@example.cn", name="只看站内")
    await notices.choose(wants_mail, "mention", NoticeChannel.INBOX_AND_MAIL.value)
    await board.create_post(
        author=author,
        category="knowledge",
        title="读书会",
        body="@爱收信 和 @只看站内 一起来",
        counter=MemoryCounter(),
        now=datetime.now(UTC),
    )
    await deliver(smtp)
    assert await Notification.filter(user_id=inbox_only.id, kind="mention").exists()
    assert mails_to(smtp, "inbox@example.cn") == []
    [mail] = [
        m
        for m in smtp.received()
        if to_of(m) == "mailme@example.cn" and subject_of(m) not in VERIFICATION
    ]
    assert subject_of(mail) == "作者 mentioned you"
    assert "读书会" in text_of(mail)
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(mail["List-Unsubscribe"]).strip("<>")
    assert unsubscribe.startswith("http://testserver/mail/unsubscribe/")  # the public URL

    # A mail client's one click: a POST with no cookie and no CSRF token.
    path = unsubscribe.removeprefix("http://testserver")
    forged = await client.post(path[:-4] + "abcd", content=b"List-Unsubscribe=One-Click")
    assert forged.status_code == 422
    clicked = await client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert clicked.status_code == 200
    assert await notices.channel_for(wants_mail.id, "mention") == NoticeChannel.INBOX
    await board.create_post(
        author=author,
        category="knowledge",
        title="第二次",
        body="@爱收信 再来",
        counter=MemoryCounter(),
        now=datetime.now(UTC),
    )
    await deliver(smtp)
    assert len(mails_to(smtp, "mailme@example.cn")) == 1  # in the inbox, no second mail
    assert await Notification.filter(user_id=wants_mail.id, kind="mention").count() == 2


async def test_nothing_means_nothing(client: httpx.AsyncClient) -> None:
    person = await verified_user("silent@example.cn")
    token = await token_for(person)
    changed = await client.put(
        "/api/v1/me/notices/order_shipped", json={"channel": "nothing"}, headers=bearer(token)
    )
    assert changed.status_code == 200
    assert {"kind": "order_shipped", "channel": "nothing"} in changed.json()["items"]
    assert (
        await notices.notify(person.id, kind="order_shipped", params={"order": 1, "tracking": "x"})
        is None
    )
    unknown = await client.put(
        "/api/v1/me/notices/no_such_kind", json={"channel": "inbox"}, headers=bearer(token)
    )
    assert unknown.status_code == 404
    wrong = await client.put(
        "/api/v1/me/notices/mention", json={"channel": "carrier pigeon"}, headers=bearer(token)
    )
    assert wrong.status_code == 422


async def test_a_window_opening_is_told_to_whoever_asked(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    now = datetime.now(UTC)
    window = await windows.create_window(
        name="2027 年度会员",
        price_fen=19_900,
        seats=10,
        opens_at=now + timedelta(hours=1),
        closes_at=now + timedelta(days=2),
        now=now,
    )
    waiting = await verified_user("waiting@example.cn", locale="zh_CN")
    token = await token_for(waiting)
    asked = await client.post(
        f"/api/v1/enrollment-windows/{window.id}/reminders", headers=bearer(token)
    )
    assert asked.status_code == 200 and asked.json() == {"waiting": True}
    await sign_in(client, "waiting@example.cn")
    page = await client.get("/membership")
    assert "data-reminded" in page.text  # the page says they will be told
    assert await reminders.send_window_reminders(now=now) == 0  # not open yet
    opened = now + timedelta(hours=1, seconds=1)
    assert await reminders.send_window_reminders(now=opened) == 1
    assert await reminders.send_window_reminders(now=opened) == 0  # told once
    await deliver(smtp, now=opened)
    [(subject, text)] = [m for m in mails_to(smtp, "waiting@example.cn")]
    assert subject == "“2027 年度会员”开放报名了"
    assert "取消" in text or "退订" in text  # a reminder carries its unsubscribe link


async def test_a_mail_server_that_is_down_delays_mail_but_not_the_payment(
    app: Starlette, settings: Settings, smtp: SmtpServer
) -> None:
    buyer = await verified_user("patient@example.cn")
    product = await store.create_product(
        title="笔记本", description="", category="逼格工场", price_fen=2_000, stock=1
    )
    smtp.stop()
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        memory=StoreMemory(),
        shipping=address(),
    )
    result = await store.pay_order(
        provider=app.state.payments_provider,
        order_id=order.id,
        user=buyer,
        choice=PaymentChoice(
            payment_method=await card_payment_method(settings, "4242424242424242")
        ),
        now=datetime.now(UTC),
    )
    assert result.outcome.value == "paid"
    await deliver(smtp)  # refused: nobody listens
    receipt = await OutboxMessage.get(recipient="patient@example.cn", subject__startswith="Receipt")
    assert receipt.state == OutboxState.PENDING and receipt.attempts == 1
    smtp.start()
    await deliver(smtp, now=datetime.now(UTC) + timedelta(minutes=5))  # its retry is due
    assert [s for s, _ in mails_to(smtp, "patient@example.cn")] == [
        f"Receipt for order #{order.id}"
    ]


async def test_notices_are_read_in_the_language_of_whoever_reads_them(
    client: httpx.AsyncClient,
) -> None:
    reader = await make_user(email="reader@example.cn", name="读者")
    await notices.notify(
        reader.id, kind="raffle_won", params={"title": "限量茶具", "time": "20:00"}, link="/store"
    )
    token = await token_for(reader)
    english = (
        await client.get(
            "/api/v1/notifications", headers={**bearer(token), "Accept-Language": "en"}
        )
    ).json()
    chinese = (
        await client.get(
            "/api/v1/notifications", headers={**bearer(token), "Accept-Language": "zh-CN"}
        )
    ).json()
    [en], [zh] = english["items"], chinese["items"]
    assert en["kind"] == zh["kind"] == "raffle_won"
    assert en["text"] == "You won the raffle for “限量茶具”: buy before 20:00 (Beijing time)."
    assert zh["text"] == "恭喜中签“限量茶具”！请在 20:00（北京时间）前购买。"
    assert en["message"] == en["text"] and zh["message"] == zh["text"]

    # No Accept-Language: the account's own choice, which the language switch remembers.
    await sign_in(client, "reader@example.cn")
    await client.get("/lang/en?next=/account/notifications")
    assert (await User.get(id=reader.id)).locale == "en"
    plain = (await client.get("/api/v1/notifications", headers=bearer(token))).json()
    assert plain["items"][0]["text"] == en["text"]
    inbox = await client.get("/account/notifications")
    assert en["text"] in inbox.text
    await client.get("/lang/zh_CN?next=/account/notifications")
    inbox = await client.get("/account/notifications")
    assert zh["text"] in inbox.text and en["text"] not in inbox.text


async def test_signing_in_brings_the_accounts_language_to_a_new_browser(app: Starlette) -> None:
    person = await make_user(email="traveller@example.cn")
    person.locale = "en"
    await person.save(update_fields=["locale"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        await sign_in(browser, "traveller@example.cn")
        assert browser.cookies.get("lang") == "en"
        home = await browser.get("/")
        assert 'lang="en"' in home.text
