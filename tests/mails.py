"""Every kind of mail Shuyuan sends, written to the outbox through the real code paths, for one
reader in one language: the account's own (verification, password reset, sign-in and link
codes), one of each notice kind the app registers (with real things behind the receipt, the
shipped order, a drop, the membership), and a broadcast. tests/accounts/test_mail_kinds.py and
the browser's look at them (tests/e2e/test_mail_look.py) read them back."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from accounts import devices, link_codes, notices, outbox, resets, verification
from accounts.models import NoticeChannel, NoticeChoice, OutboxMessage, User
from crm import broadcasts
from crm.models import Broadcast
from membership import windows
from payments.models import Payment, PaymentStatus, PayMethod
from ratelimit import MemoryCounter
from store import services as store
from store.models import Order, OrderItem
from tests.factories import PASSWORD, address
from translation import supported

_numbers = itertools.count(1)
# A value for each parameter a notice's sentence names (any other gets SAMPLE).
SAMPLE = "示例"
PARAMS: dict[str, object] = {
    "amount": "¥136.00",
    "tracking": "SF1234567890",
    "title": "《认知红利》精装本",
    "date": "2027-12-01",
    "window": "2027 年度会员",
    "name": "李娟",
    "time": "20:30",
    "note": "已超过七天无理由退货期",
    "budget": "1000",
    "refund": "7",
    "payment": "42",
    "state": "ABNORMAL",
    "what": "微信",
    "post": "读书会招募",
    "by": "王老师",
    "reason": "广告",
}


@dataclass(frozen=True)
class Written:
    """The outbox row of one kind of mail, and the order behind the receipt."""

    kind: str
    row: OutboxMessage


async def reader(locale: str) -> User:
    """A person with a verified address who chose mail for every kind, in `locale`."""
    number = next(_numbers)
    user = await User.create(
        email=f"mail-reader-{number}-{locale.lower()}@example.cn",
        display_name="李娟",
        password_hash="",
        locale=supported(locale),
        email_verified_at=datetime.now(UTC),
    )
    for name in notices.kinds():
        await NoticeChoice.update_or_create(
            user_id=user.id, kind=name, defaults={"channel": NoticeChannel.INBOX_AND_MAIL}
        )
    return user


async def paid_order(buyer: User) -> Order:
    """An order of two products, paid with WeChat Pay (the payment row as payments writes it)."""
    first = await store.create_product(
        title="《认知红利》精装本", description="", category="图书", price_fen=6_800, stock=5
    )
    second = await store.create_product(
        title="书院帆布袋", description="", category="文创", price_fen=3_400, stock=5
    )
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=first.id, quantity=1),
               store.Wanted(product_id=second.id, quantity=2)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )  # fmt: skip
    payment = await Payment.create(
        user_id=buyer.id, purpose="order", subject_id=str(order.id), amount_fen=order.total_fen,
        method=PayMethod.WECHAT_PAY, flow="native", provider="wechatpay",
        status=PaymentStatus.SUCCEEDED, succeeded_at=datetime.now(UTC),
    )  # fmt: skip
    await Order.filter(id=order.id).update(
        payment_id=payment.id, status="shipped", tracking_number="SF1234567890"
    )
    return await Order.get(id=order.id)


def _params_for(sentence: str, things: dict[str, object]) -> dict[str, object]:
    names = set(re.findall(r"%\((\w+)\)s", sentence))
    return {name: things.get(name, PARAMS.get(name, SAMPLE)) for name in names} | {
        key: value for key, value in things.items() if key in ("order", "product", "window_id")
    }


async def every_kind(locale: str) -> tuple[User, Order, list[Written]]:
    """One mail of each kind to a new reader in `locale`, in the outbox (not sent yet)."""
    user = await reader(locale)
    now = datetime.now(UTC)
    order = await paid_order(user)
    product_id = (await OrderItem.filter(order_id=order.id).order_by("id").first()).product_id  # type: ignore[union-attr]
    await windows.create_window(
        name="2027 年度会员", price_fen=19_900, seats=100, opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=10), now=now,
        benefits=["每天早上 60 秒语音", "会员专属文章", "线下读书会"],
    )  # fmt: skip
    things: dict[str, object] = {"order": order.id, "product": product_id}
    written: list[str] = []

    await verification.send_verification(
        await User.create(
            email=f"new-{user.email}", display_name="新读者", password_hash="",
            locale=supported(locale),
        ),
        now=now,
    )  # fmt: skip
    written.append("verify")
    await resets.send_reset_link(user, locale, now)
    written.append("password_reset")
    await devices.send_login_code(user, locale, now)
    written.append("login_code")
    await link_codes.send_link_code(user, locale, now)
    written.append("link_code")
    for name, kind in notices.kinds().items():
        await notices.notify(
            user.id, kind=name, params=_params_for(kind.sentence, things), link="/", now=now
        )
        written.append(name)
    broadcast = await Broadcast.create(
        title="本周书单：三本讲清楚中国经济的书",
        body="周末读什么？\n\n1. 《置身事内》\n2. 《繁荣与衰退》\n3. 《大国大城》\n\n书院编辑部",
        body_html=(
            "<p>周末读什么？</p><ol><li>《置身事内》</li><li>《繁荣与衰退》</li>"
            "<li>《大国大城》</li></ol><p>书院编辑部</p>"
        ),
        links=[],
        audience_kind="everyone",
        send_at=now,
        created_by_id=user.id,
        created_at=now,
    )
    mail = broadcasts.compose_mail(broadcast, user.id, user.email or "", user.locale or "")
    await outbox.enqueue_many([mail], channel="mail", now=now)
    written.append("broadcast")
    rows = await OutboxMessage.all().order_by("id")
    assert len(rows) == len(written), (len(rows), written)
    return user, order, [Written(kind, row) for kind, row in zip(written, rows, strict=True)]


__all__ = ["PASSWORD", "Written", "every_kind", "paid_order", "reader"]
