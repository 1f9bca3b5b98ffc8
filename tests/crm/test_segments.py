"""Segments: each filter's live count against a hand-written table for five seeded people."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from accounts import notices
from accounts.models import Activity, NoticeChannel, User
from crm import notes, segments
from crm.errors import SegmentNameTaken
from crm.models import Segment
from errors import ValidationError
from store.models import Category, Order, OrderItem, OrderStatus, Product
from tests.factories import make_user

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


async def buy(user: User, product: Product, status: OrderStatus) -> None:
    order = await Order.create(
        user=user, status=status, total_fen=100, hold_expires_at=NOW, paid_at=NOW
    )
    await OrderItem.create(order=order, product=product, quantity=1, unit_price_fen=100)


async def seed() -> dict[str, int]:
    """Five people, each a line of the table below:
    a: member ending in 10 days, joined 5 days ago, bought the book, read the feed, VIP, mail
    b: member ending in 200 days, joined 400 days ago, bought the book and was refunded
    c: membership ended a week ago, bought the last drop (shipped)
    d: never a member, played a feed item, VIP
    e: never a member, nothing else"""
    people = {name: await make_user(name=f"读者{name}") for name in "abcde"}
    a, b, c, d, e = people.values()
    for person, until, joined in (
        (a, NOW + timedelta(days=10), NOW - timedelta(days=5)),
        (b, NOW + timedelta(days=200), NOW - timedelta(days=400)),
        (c, NOW - timedelta(days=7), NOW - timedelta(days=100)),
        (d, None, NOW - timedelta(days=50)),
        (e, None, NOW - timedelta(days=1)),
    ):
        await User.filter(id=person.id).update(member_until=until, created_at=joined)
    shelf = await Category.create(name="书")
    book = await Product.create(title="书", category=shelf, price_fen=100, stock=9)
    await Product.create(  # an older drop: not the last one
        title="旧杯",
        category=shelf,
        price_fen=100,
        stock=9,
        sale_starts_at=NOW - timedelta(days=30),
    )
    drop = await Product.create(
        title="杯", category=shelf, price_fen=100, stock=9, sale_starts_at=NOW - timedelta(days=2)
    )
    await Product.create(  # a drop not open yet: not the last one either
        title="新杯", category=shelf, price_fen=100, stock=9, sale_starts_at=NOW + timedelta(days=2)
    )
    await buy(a, book, OrderStatus.PAID)
    await buy(b, book, OrderStatus.REFUNDED)
    await buy(c, drop, OrderStatus.SHIPPED)
    await buy(e, drop, OrderStatus.PENDING_PAYMENT)  # never paid: did not buy
    await Activity.create(user_id=a.id, day=date(2026, 5, 30), kind="feed.view", count=2)
    await Activity.create(user_id=d.id, day=date(2026, 5, 31), kind="feed.play", count=1)
    await Activity.create(user_id=e.id, day=date(2026, 5, 31), kind="store.view", count=3)
    admin = await make_user(admin=True)
    for person in (a, d):
        await notes.add_tag(actor=admin, user_id=person.id, name="VIP", now=NOW)
    await User.filter(id=admin.id).delete()  # the table counts the five alone
    await notices.choose(a, "broadcast", NoticeChannel.INBOX_AND_MAIL.value, now=NOW)
    ids = {name: person.id for name, person in people.items()}
    ids["book"], ids["drop"] = book.id, drop.id
    return ids


# filter -> who is in it (product ids are filled in from the seed)
TABLE: list[tuple[dict[str, object], str]] = [
    ({}, "abcde"),
    ({"membership": "member"}, "ab"),
    ({"membership": "expired"}, "c"),
    ({"membership": "never"}, "de"),
    ({"expires_within_days": 30}, "a"),
    ({"joined_within_days": 30}, "ae"),
    ({"bought_product": "book"}, "a"),
    ({"bought_in_last_drop": True}, "c"),
    ({"feed": "never_opened"}, "bce"),
    ({"feed": "opened"}, "ad"),
    ({"tag": "VIP"}, "ad"),
    ({"tag": "nobody has it"}, ""),
    ({"broadcast_mail": True}, "a"),
    ({"broadcast_mail": False}, "bcde"),
    ({"membership": "member", "feed": "never_opened"}, "b"),
    ({"tag": "VIP", "membership": "never"}, "d"),
]


async def test_each_segment_counts_exactly_the_people_of_the_hand_written_table() -> None:
    ids = await seed()
    for rules, expected in TABLE:
        filled = {k: ids[v] if v in ("book", "drop") else v for k, v in rules.items()}
        parsed = segments.read_filter(filled)
        found = await (await segments.people(parsed, now=NOW)).values_list("id", flat=True)
        assert sorted(found) == sorted(ids[n] for n in expected), rules
        assert await segments.count(parsed, now=NOW) == len(expected), rules


async def test_a_saved_segment_is_counted_and_exported_as_it_stands() -> None:
    ids = await seed()
    segment, count = await segments.create(
        actor=None,
        name="  快到期 的会员 ",
        rules=segments.read_filter({"expires_within_days": 30}),
        now=NOW,
    )
    assert (segment.name, segment.rules, count) == ("快到期 的会员", {"expires_within_days": 30}, 1)
    rows = [row async for row in segments.export_rows(segments.rules_of(segment), now=NOW)]
    assert [row[0] for row in rows] == [ids["a"]]
    with pytest.raises(SegmentNameTaken):
        await segments.create(
            actor=None, name="快到期 的会员", rules=segments.read_filter({}), now=NOW
        )
    assert await Segment.all().count() == 1


@pytest.mark.parametrize(
    "rules",
    [
        {"membership": "sometimes"},
        {"expires_within_days": 0},
        {"expires_within_days": 10_000},
        {"tag": "x" * 31},
        {"unknown": 1},
        {"bought_product": -1},
        [],
    ],
)
async def test_a_malformed_filter_is_refused_with_a_reason(rules: object) -> None:
    with pytest.raises(ValidationError):
        segments.read_filter(rules)
