"""A window's and a drop's opening minute by minute (viewed, held, paid), and who may read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from membership import analytics as membership_analytics
from membership import services as membership
from membership.models import Enrollment
from ratelimit import MemoryCounter
from store import analytics as store_analytics
from store import services as store
from store.models import Order
from tallies import FUNNEL_AFTER, FUNNEL_BEFORE, Tally, flush
from tests.factories import address, bearer, make_user, make_window, token_for

OPENS = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SPAN_MINUTES = int((FUNNEL_BEFORE + FUNNEL_AFTER).total_seconds() // 60)


def at(minutes: int, seconds: int = 0) -> datetime:
    return OPENS + timedelta(minutes=minutes, seconds=seconds)


def busy_minutes(answer: dict[str, object]) -> dict[str, tuple[int, int, int]]:
    minutes = answer["minutes"]
    assert isinstance(minutes, list) and len(minutes) == SPAN_MINUTES
    return {
        m["at"]: (m["viewed"], m["held"], m["paid"])
        for m in minutes
        if m["viewed"] or m["held"] or m["paid"]
    }


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_a_windows_opening_is_counted_minute_by_minute(client: httpx.AsyncClient) -> None:
    window = await make_window(now=at(-60), opens_in=timedelta(hours=1), seats=5)
    tally = Tally()
    for moment in (at(-2), at(-2, 30), at(0, 30), at(0, 31), at(0, 59), at(1, 1)):
        membership_analytics.count_window_view(tally, window, moment)
    membership_analytics.count_window_view(tally, window, at(-40))  # before the funnel: not kept
    await flush(tally)
    first, second, third = await make_user(), await make_user(), await make_user()
    held = [
        await membership.enroll(window_id=window.id, user=first, now=at(0, 10)),
        await membership.enroll(window_id=window.id, user=second, now=at(0, 20)),
        await membership.enroll(window_id=window.id, user=third, now=at(1, 10)),
    ]
    # Paid in the opening minute, and two minutes later.
    await Enrollment.filter(id=held[0].id).update(paid_at=at(0, 50))
    await Enrollment.filter(id=held[1].id).update(paid_at=at(2, 5))
    owner = await make_user(role="owner")

    answer = await client.get(
        f"/api/v1/admin/funnels/window/{window.id}", headers=bearer(await token_for(owner))
    )

    assert answer.status_code == 200
    body = answer.json()
    assert (body["kind"], body["id"], body["opens_at"]) == ("window", window.id, iso(OPENS))
    assert body["minutes"][0]["at"] == iso(OPENS - FUNNEL_BEFORE)
    assert busy_minutes(body) == {
        iso(at(-2)): (2, 0, 0),
        iso(at(0)): (3, 2, 1),
        iso(at(1)): (1, 1, 0),
        iso(at(2)): (0, 0, 1),
    }


async def test_a_drops_opening_counts_orders_held_and_paid(client: httpx.AsyncClient) -> None:
    drop = await store.create_product(
        title="限量笔记本",
        description="",
        category="文具精选",
        price_fen=3_900,
        stock=10,
        sale_starts_at=OPENS,
        now=at(-120),
    )
    tally = Tally()
    for moment in (at(-1), at(0), at(0, 1), at(0, 2)):
        store_analytics.count_product_view(tally, drop, None, moment)
    await flush(tally)
    buyers = [await make_user() for _ in range(3)]
    orders = [
        await store.place_order(
            buyer=buyer,
            items=[store.Wanted(product_id=drop.id, quantity=quantity)],
            now=moment,
            counter=MemoryCounter(),
            shipping=address(),
        )
        for buyer, quantity, moment in zip(
            buyers, (1, 2, 1), (at(0, 5), at(0, 6), at(3)), strict=True
        )
    ]
    await Order.filter(id=orders[1].id).update(paid_at=at(1, 30))
    owner = await make_user(role="owner")

    answer = await client.get(
        f"/api/v1/admin/funnels/drop/{drop.id}", headers=bearer(await token_for(owner))
    )

    assert answer.status_code == 200
    assert busy_minutes(answer.json()) == {
        iso(at(-1)): (1, 0, 0),
        iso(at(0)): (3, 2, 0),  # two orders, three units: a hold is an order
        iso(at(1)): (0, 0, 1),
        iso(at(3)): (0, 1, 0),
    }


async def test_a_product_that_is_no_drop_and_an_unknown_kind_are_not_found(
    client: httpx.AsyncClient,
) -> None:
    plain = await store.create_product(
        title="书签", description="", category="文具精选", price_fen=900, stock=3
    )
    headers = bearer(await token_for(await make_user(role="owner")))
    for path, code in (
        (f"/api/v1/admin/funnels/drop/{plain.id}", "product_not_found"),
        (f"/api/v1/admin/funnels/shop/{plain.id}", "product_not_found"),
        ("/api/v1/admin/funnels/window/999", "window_not_found"),
    ):
        answer = await client.get(path, headers=headers)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == code


async def test_only_owners_and_admins_read_the_numbers(client: httpx.AsyncClient) -> None:
    for role, status in (("owner", 200), ("admin", 200), ("support", 403), ("moderator", 403)):
        person = await make_user(role=role)
        answer = await client.get("/api/v1/admin/stats", headers=bearer(await token_for(person)))
        assert answer.status_code == status, role
    member = await make_user()
    answer = await client.get("/api/v1/admin/stats", headers=bearer(await token_for(member)))
    assert answer.status_code == 403
    assert (await client.get("/api/v1/admin/stats")).status_code == 401


async def test_a_range_over_366_days_or_backwards_is_refused(client: httpx.AsyncClient) -> None:
    headers = bearer(await token_for(await make_user(role="admin")))
    for params, field in (
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
        ({"from": "yesterday"}, "from"),
    ):
        answer = await client.get("/api/v1/admin/stats", params=params, headers=headers)
        assert answer.status_code == 422, params
        assert answer.json()["error"]["field"] == field
    year = await client.get(
        "/api/v1/admin/stats", params={"from": "2025-01-01", "to": "2026-01-01"}, headers=headers
    )
    assert year.status_code == 200 and len(year.json()["days"]) == 366
