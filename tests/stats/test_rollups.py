"""The numbers per Asia/Shanghai day: a hand-written table of what a few days of events must
give, with events on either side of midnight in Shanghai (16:00 UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx

from accounts.models import Activity, User
from community.board.models import Post, Reply
from community.feed import analytics
from community.feed.memory import FeedMemory
from membership.models import MembershipGrant
from payments.models import Payment, PaymentStatus, Refund
from stats import rollups
from stats.models import StatsDay
from stats.report import report
from store import analytics as store_analytics
from store.models import Category, Order, OrderItem, OrderStatus, Product
from tallies import Tally, flush
from tests.factories import bearer, make_user, token_for


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of March 2026, in UTC (Shanghai is eight hours ahead)."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


# Shanghai's 2 March begins at utc(1, 16).
EXPECTED = {
    # day: (new accounts, members, active members, feed views, plays, lookups, product views,
    #       posts, replies, revenue fen, units sold, refunds fen)
    "2026-03-01": (1, 1, 1, 1, 0, 0, 0, 0, 0, 9_900, 1, 0),
    "2026-03-02": (2, 2, 2, 3, 1, 0, 0, 1, 1, 0, 3, 0),
    "2026-03-03": (1, 3, 1, 0, 0, 1, 1, 0, 1, 19_900, 0, 4_900),
}
NAMES = (
    "new_accounts",
    "members",
    "active_members",
    "feed_views",
    "feed_plays",
    "keyword_lookups",
    "product_views",
    "board_posts",
    "board_replies",
    "revenue_fen",
    "units_sold",
    "refunds_fen",
)


async def person(made_at: datetime) -> User:
    user = await make_user()
    await User.filter(id=user.id).update(created_at=made_at)
    return user


async def grant(user: User, at: datetime, *, revoked_at: datetime | None = None) -> None:
    await MembershipGrant.create(
        user=user,
        source="complimentary",
        days=365,
        new_until=at + timedelta(days=365),
        created_at=at,
        revoked_at=revoked_at,
    )


async def payment(user: User, amount: int, succeeded_at: datetime | None) -> Payment:
    return await Payment.create(
        user=user,
        purpose="test",
        subject_id=f"{user.id}-{amount}",
        amount_fen=amount,
        status=PaymentStatus.SUCCEEDED if succeeded_at else PaymentStatus.PENDING,
        succeeded_at=succeeded_at,
    )


async def order(user: User, product: Product, quantities: list[int], paid_at: datetime | None):
    placed = await Order.create(
        user=user,
        status=OrderStatus.PAID if paid_at else OrderStatus.PENDING_PAYMENT,
        total_fen=100 * sum(quantities),
        hold_expires_at=(paid_at or utc(2, 0)) + timedelta(minutes=10),
        paid_at=paid_at,
    )
    for quantity in quantities:
        await OrderItem.create(order=placed, product=product, quantity=quantity, unit_price_fen=100)
    return placed


async def seed_three_days() -> None:
    a = await person(utc(1, 15, 59, 59))  # Shanghai 1 March, 23:59:59
    b = await person(utc(1, 16))  # Shanghai 2 March, 00:00
    c = await person(utc(2, 1))
    d = await person(utc(2, 17))  # Shanghai 3 March, 01:00: never a member
    await grant(a, utc(1, 10))
    await grant(b, utc(2, 16, 30))  # a member from Shanghai 3 March, 00:30
    await grant(c, utc(1, 16, 10), revoked_at=utc(2, 16, 5))  # revoked five minutes into 3 March

    # Counted the way the pages count them: in memory, then written by a flush.
    tally = Tally()
    feed = FeedMemory(tally=tally)
    analytics.record(feed, 1, "views", user_id=a.id, now=utc(1, 15, 30))  # A active on 1 March
    analytics.record(feed, 1, "plays", user_id=a.id, now=utc(1, 16, 30))  # A active on 2 March
    for _ in range(3):
        analytics.record(feed, 2, "views", now=utc(2, 3))  # nobody signed in
    analytics.record(feed, 2, "lookups", user_id=d.id, now=utc(2, 17, 10))  # D: no member
    category = await Category.create(name="书")
    product = await Product.create(title="书签", category=category, price_fen=100, stock=10)
    store_analytics.count_product_view(tally, product, b.id, utc(2, 16, 40))  # B on 3 March
    await flush(tally)

    post = await Post.create(
        author=c,
        category="knowledge",
        title="问",
        body="问",
        body_html="<p>问</p>",
        last_activity_at=utc(1, 16, 20),
        created_at=utc(1, 16, 20),  # C active on 2 March
    )
    await Reply.create(
        post=post, author=a, body="答", body_html="<p>答</p>", created_at=utc(2, 15, 59)
    )
    await Reply.create(
        post=post, author=d, body="答", body_html="<p>答</p>", created_at=utc(2, 16, 1)
    )

    paid_by_a = await payment(a, 9_900, utc(1, 15))
    await payment(b, 19_900, utc(2, 16, 30))
    await payment(a, 5_000, None)  # never succeeded: no money
    await Refund.create(payment_id=paid_by_a.id, amount_fen=4_900, created_at=utc(2, 16))

    await order(a, product, [2, 1], utc(1, 16))  # Shanghai 2 March, 00:00
    await order(a, product, [1], utc(1, 15, 59))
    await order(b, product, [5], None)  # held, never paid


def as_table(days: list[dict[str, object]]) -> dict[str, tuple[object, ...]]:
    return {str(day["date"]): tuple(day[name] for name in NAMES) for day in days}


async def test_the_numbers_of_three_shanghai_days_match_the_hand_written_table(
    client: httpx.AsyncClient,
) -> None:
    await seed_three_days()
    done = await rollups.refresh(now=utc(3, 12))  # Shanghai 3 March, 20:00
    assert (done.first, done.last, done.days) == (date(2026, 3, 1), date(2026, 3, 3), 3)
    owner = await make_user(role="owner")

    answer = await client.get(
        "/api/v1/admin/stats",
        params={"from": "2026-03-01", "to": "2026-03-03"},
        headers=bearer(await token_for(owner)),
    )

    assert answer.status_code == 200
    assert as_table(answer.json()["days"]) == EXPECTED
    assert [day["date"] for day in answer.json()["previous"]] == [
        "2026-02-26",
        "2026-02-27",
        "2026-02-28",
    ]
    assert all(day[name] == 0 for day in answer.json()["previous"] for name in NAMES)


async def test_a_refresh_repeated_changes_nothing_and_a_late_count_reaches_yesterday() -> None:
    await seed_three_days()
    await rollups.refresh(now=utc(3, 12))
    first = as_table((await report(date(2026, 3, 1), date(2026, 3, 3))).days)
    await rollups.refresh(now=utc(3, 12, 1))
    assert as_table((await report(date(2026, 3, 1), date(2026, 3, 3))).days) == first == EXPECTED

    # A view of 2 March written late (a worker flushed after midnight) is in the next run,
    # which recomputes the day before the last one it wrote.
    tally = Tally()
    analytics.record(FeedMemory(tally=tally), 2, "views", now=utc(2, 15))
    await flush(tally)
    done = await rollups.refresh(now=utc(3, 12, 2))
    assert (done.first, done.days) == (date(2026, 3, 2), 2)
    assert (await StatsDay.get(day=date(2026, 3, 2))).feed_views == 4


async def test_the_totals_add_up_count_members_on_the_last_day_and_average_the_active() -> None:
    await seed_three_days()
    await rollups.refresh(now=utc(3, 12))
    numbers = await report(date(2026, 3, 1), date(2026, 3, 3))
    assert numbers.totals["revenue_fen"] == (9_900 + 19_900, 0)
    assert numbers.totals["new_accounts"] == (4, 0)
    assert numbers.totals["members"] == (3, 0)  # on 3 March
    assert numbers.totals["active_members"] == (round((1 + 2 + 1) / 3), 0)


async def test_a_person_counted_each_day_shows_in_the_activity_table_once_per_kind() -> None:
    user = await make_user()
    tally = Tally()
    feed = FeedMemory(tally=tally)
    for _ in range(4):
        analytics.record(feed, 7, "views", user_id=user.id, now=utc(5, 2))
    await flush(tally)
    analytics.record(feed, 7, "views", user_id=user.id, now=utc(5, 3))  # a second flush adds
    await flush(tally)
    assert await Activity.filter(user_id=user.id).values_list("day", "kind", "count") == [
        (date(2026, 3, 5), "feed.view", 5)
    ]
