"""The demo's past in money (demo.history): the founding window's opening and its week, a
few paid orders most days, a drop sold out in minutes, refunds.

Payments are recorded as the provider's answer records them (payments.settle.settle_succeeded:
the purpose fulfils the thing in the same transaction), so seats, grants, orders and units are
exactly what a real payment leaves; refunds as payments.services.refund records one once the
provider has agreed. The provider itself is asked nothing.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from demo.past import DROP, EVENING, WINDOW_CLOSES, WINDOW_OPENS, Past, shanghai
from demo.pictures import picture
from errors import DomainError
from membership import services as membership
from membership import windows
from membership.analytics import count_window_view
from membership.models import EnrollmentWindow, MembershipGrant
from payments.models import Payment, PaymentStatus, PayMethod, Refund, Settlement
from payments.provider import Intent
from payments.purposes import handlers_for
from payments.settle import settle_succeeded
from pictures import PicturePool
from ratelimit import MemoryCounter
from store import services as store
from store.analytics import count_product_view
from store.models import Order, OrderEvent, OrderStatus, Product
from store.orders import PAYMENT_PURPOSE as ORDER_PURPOSE
from store.shipping import Address, check_address

ADDRESSES = [
    ("北京市", "北京市", "朝阳区", "建国路 88 号 现代城 2 号楼"),
    ("上海市", "上海市", "徐汇区", "漕溪北路 398 号"),
    ("广东省", "深圳市", "南山区", "科技园南区 高新南一道 9 号"),
    ("浙江省", "杭州市", "西湖区", "文三路 478 号"),
    ("四川省", "成都市", "武侯区", "人民南路四段 11 号"),
    ("湖北省", "武汉市", "洪山区", "珞喻路 1037 号"),
]
METHODS = (PayMethod.WECHAT_PAY, PayMethod.WECHAT_PAY, PayMethod.ALIPAY, PayMethod.CARD)
DROP_TITLE = "逼格工场 · 书院帆布袋（限量 60）"


async def paid(
    past: Past, *, user_id: int, purpose: str, subject_id: int, amount_fen: int, at: datetime
) -> Payment:
    """A payment that succeeded at `at`, recorded as the provider's answer records it: its
    purpose fulfils the thing (the seat paid, the order paid) in the same transaction."""
    payment = await Payment.create(
        user_id=user_id,
        purpose=purpose,
        subject_id=str(subject_id),
        amount_fen=amount_fen,
        method=past.rng.choice(METHODS),
        status=PaymentStatus.PENDING,
        active_key=f"{purpose}:{subject_id}",
    )
    intent = Intent(
        id=f"pi_demo_{payment.id}", status="succeeded", amount=amount_fen, currency="cny"
    )
    await settle_succeeded(past.provider, payment.id, intent, now=at)
    await Payment.filter(id=payment.id).update(created_at=at - timedelta(seconds=40))
    payment = await Payment.get(id=payment.id)
    if payment.settlement != Settlement.FULFILLED:
        raise RuntimeError(f"the demo's payment {payment.id} was not fulfilled")
    return payment


async def founding_window(past: Past) -> None:
    """The founding window: its page watched before the opening, most seats taken in the
    first hour (a few holds left to run out), the rest over the week."""
    opens = shanghai(past.days[WINDOW_OPENS], EVENING)
    closes = shanghai(past.days[WINDOW_CLOSES], EVENING)
    window = await windows.create_window(
        name="书院会员 · 创始期",
        price_fen=19_900,
        seats=120,
        opens_at=opens,
        closes_at=closes,
        now=opens - timedelta(days=3),
    )
    await EnrollmentWindow.filter(id=window.id).update(created_at=opens - timedelta(days=3))
    for minute in range(-30, 120):
        views = round(4 + 60 * math.exp(-abs(minute) / (8 if minute >= 0 else 10)))
        for _ in range(views):
            seconds = timedelta(minutes=minute, seconds=past.rng.randrange(60))
            count_window_view(past.memory.tally, window, opens + seconds)
    attempts: list[tuple[datetime, User]] = []
    for person in past.living(opens):
        if past.rng.random() < 0.8:
            minutes = min(past.rng.expovariate(1 / 9), 115)
            attempts.append((opens + timedelta(minutes=minutes), person))
    for person in past.people:
        if opens < person.created_at < closes and past.rng.random() < 0.45:
            at = person.created_at + timedelta(hours=past.rng.uniform(0.2, 20))
            if at < min(closes, past.now):
                attempts.append((at, person))
    for at, person in sorted(attempts, key=lambda attempt: attempt[0]):
        try:
            enrollment = await membership.enroll(window_id=window.id, user=person, now=at)
        except DomainError:
            continue
        if past.rng.random() < 0.1:
            continue  # never paid: the hold runs out and the seat goes back
        paid_at = at + timedelta(seconds=past.rng.randint(50, 240))
        await paid(
            past,
            user_id=person.id,
            purpose=membership.PAYMENT_PURPOSE,
            subject_id=enrollment.id,
            amount_fen=enrollment.amount_fen,
            at=paid_at,
        )
        await MembershipGrant.filter(enrollment_id=enrollment.id).update(created_at=paid_at)
        past.member_from[person.id] = paid_at
    await membership.release_expired_holds(provider=past.provider, now=closes, window_id=window.id)


def _address(person: User) -> Address:
    province, city, district, street = ADDRESSES[person.id % len(ADDRESSES)]
    phone = f"13{person.id % 10}{person.id:08d}"[-11:]
    return check_address(
        name=person.display_name,
        phone=phone,
        province=province,
        city=city,
        district=district,
        address=street,
    )


async def _order(past: Past, person: User, product: Product, quantity: int, at: datetime) -> Order:
    return await store.place_order(
        buyer=person,
        items=[store.Wanted(product_id=product.id, quantity=quantity)],
        now=at,
        counter=MemoryCounter(),  # the demo's buyers are not rate-limited across weeks
        shipping=_address(person),
    )


async def _pay_order(past: Past, order: Order, at: datetime) -> None:
    await paid(
        past,
        user_id=order.user_id,  # type: ignore[attr-defined]
        purpose=ORDER_PURPOSE,
        subject_id=order.id,
        amount_fen=order.total_fen,
        at=at,
    )
    await OrderEvent.filter(order_id=order.id, status=OrderStatus.PAID).update(at=at)


async def orders(past: Past, day: date, products: list[Product]) -> None:
    """A few paid orders most days; only members buy the members' things."""
    for _ in range(past.rng.randint(1, 5)):
        buyers = past.living(shanghai(day) + timedelta(days=1))
        if not buyers:
            return
        person = past.rng.choice(buyers)
        at = past.moment(day, after=person.created_at)
        if at is None:
            continue
        on_sale = [p for p in products if not p.members_only or past.member_at(person, at)]
        try:
            order = await _order(
                past, person, past.rng.choice(on_sale), past.rng.choice((1, 1, 1, 2)), at
            )
        except DomainError:  # sold out, over a limit: not bought
            continue
        await _pay_order(past, order, at + timedelta(seconds=past.rng.randint(40, 300)))


async def drop(past: Past) -> None:
    """A limited drop: members from 19:30, everyone from 20:00, sold out in minutes; its page
    watched minute by minute; a few holds left unpaid ran out and their units sold again."""
    opens = shanghai(past.days[DROP], EVENING)
    drop = await store.create_product(
        title=DROP_TITLE,
        description="创始会员限定色，每人限购 1 个。",
        category="逼格工场",
        price_fen=6_900,
        stock=60,
        per_customer_limit=1,
        member_head_start_minutes=30,
        sale_starts_at=opens,
        now=opens - timedelta(days=5),
    )
    await Product.filter(id=drop.id).update(created_at=opens - timedelta(days=5))
    pictures = PicturePool(processes=1)
    try:
        await store.set_product_image(
            product_id=drop.id,
            data=picture("bag", "#2f5d62"),
            pictures=pictures,
        )
    finally:
        pictures.close()
    for minute in range(-30, 120):
        # Everyone at 20:00; members at 19:30, when their head start begins.
        everyone = 40 * math.exp(-abs(minute) / (6 if minute >= 0 else 12))
        views = round(3 + everyone + 30 * math.exp(-(minute + 30) / 6))
        for _ in range(views):
            at = opens + timedelta(minutes=minute, seconds=past.rng.randrange(60))
            count_product_view(past.memory.tally, drop, None, at)
    # (when, who, pays): the rush leaves a few holds unpaid; those who come back later for a
    # unit that came back pay for it.
    attempts: list[tuple[datetime, User, bool]] = []
    for person in past.living(opens):
        pays = past.rng.random() >= 0.12
        if past.member_at(person, opens - timedelta(minutes=30)) and past.rng.random() < 0.7:
            early = opens - timedelta(minutes=30 - min(past.rng.expovariate(1 / 5), 29))
            attempts.append((early, person, pays))
        elif past.rng.random() < 0.5:
            at = opens + timedelta(minutes=past.rng.expovariate(1 / 4))
            attempts.append((at, person, pays))
        elif past.rng.random() < 0.3:
            attempts.append((opens + timedelta(minutes=past.rng.uniform(40, 110)), person, True))
    for at, person, pays in sorted(attempts, key=lambda attempt: attempt[0]):
        await store.release_expired_orders(provider=past.provider, now=at)
        try:
            order = await _order(past, person, drop, 1, at)
        except DomainError:  # sold out, not a member yet
            continue
        if pays:  # else its unit goes back when the hold runs out
            await _pay_order(past, order, at + timedelta(seconds=past.rng.randint(30, 150)))
    await store.release_expired_orders(provider=past.provider, now=opens + timedelta(hours=3))


async def refund_an_order(past: Past, day: date) -> None:
    """An order of the days before refunded in full by the admin (the buyer changed their
    mind), written as payments.services.refund writes it once the provider has agreed."""
    at = shanghai(day, time(11, 0))
    order = (
        await Order.filter(status=OrderStatus.PAID, paid_at__lt=at - timedelta(days=1))
        .order_by("-paid_at")
        .first()
    )
    if order is None or order.payment_id is None or at >= past.now:
        return
    payment = await Payment.get(id=order.payment_id)
    async with in_transaction():
        await Payment.filter(id=payment.id, status=PaymentStatus.SUCCEEDED).update(
            refunded_fen=payment.amount_fen, status=PaymentStatus.REFUNDED
        )
        await Refund.create(payment_id=payment.id, amount_fen=payment.amount_fen, created_at=at)
        refunded = await Payment.get(id=payment.id)
        handlers = handlers_for(payment.purpose)
        if handlers.on_refunded is not None:
            await handlers.on_refunded(refunded, payment.amount_fen)
        await audit.record(
            actor=past.admin,
            action="order.refund",
            object_type="order",
            object_id=order.id,
            before={"payment_id": payment.id, "status": payment.status, "refunded_fen": 0},
            after={
                "payment_id": payment.id,
                "status": refunded.status,
                "refunded_fen": refunded.refunded_fen,
                "refund_fen": payment.amount_fen,
            },
            now=at,
        )
