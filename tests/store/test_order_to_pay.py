"""The order waiting to be paid, as the front page asks for it: the session read brings along
whether there is one (store.orders.PENDING_ORDER, accounts.sessions.SessionScalars), and only
a person who has one costs the page a query of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts import sessions
from accounts.models import User
from ratelimit import MemoryCounter
from store import orders
from store import services as store
from store.models import Order, OrderStatus
from tests.factories import make_user, session_cookie

LIFETIMES = sessions.Lifetimes(idle=timedelta(days=30), absolute=timedelta(days=90))


async def hold(person: User, now: datetime) -> Order:
    product = await store.create_product(
        title="时间的朋友", description="", category="书", price_fen=6_800, stock=50
    )
    return await store.place_order(
        buyer=person,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=now,
        counter=MemoryCounter(),
    )


async def loaded(person: User, now: datetime, path: str = "/") -> User:
    """`person` as a browser's session loads them for a page (with the app's wiring: the
    test's); the front page's by default."""
    _, key = await session_cookie(person)
    session = await sessions.load(key, now=now, lifetimes=LIFETIMES, path=path)
    assert session is not None and session.user is not None
    return session.user


async def test_the_session_read_brings_the_newest_order_waiting_to_be_paid() -> None:
    now = datetime.now(UTC)
    buyer, other = await make_user(name="买家"), await make_user(name="旁人")
    assert (await loaded(buyer, now)).read_with_session == {"store_pending_order": None}
    older, newer = await hold(buyer, now), await hold(buyer, now)
    await hold(other, now)
    assert (await loaded(buyer, now)).read_with_session == {"store_pending_order": newer.id}
    # Paid or cancelled, an order waits no more; the older one still does.
    await Order.filter(id=newer.id).update(status=OrderStatus.PAID)
    assert (await loaded(buyer, now)).read_with_session == {"store_pending_order": older.id}
    await Order.filter(id=older.id).update(status=OrderStatus.CANCELLED)
    assert (await loaded(buyer, now)).read_with_session == {"store_pending_order": None}


async def test_none_found_with_the_session_is_none_without_asking_again() -> None:
    now = datetime.now(UTC)
    buyer = await make_user(name="买家")
    reader = await loaded(buyer, now)  # nothing waited when the request began
    order = await hold(buyer, now)  # written since (never by the front page's own request)
    # The session's answer is taken: no query (the database would have named the order).
    assert await orders.order_to_pay(reader, now) is None
    # One that found an order, and a person loaded otherwise (an API token's), ask.
    assert await orders.order_to_pay(await loaded(buyer, now), now) == order
    fetched = await User.get(id=buyer.id)
    assert fetched.read_with_session is None
    assert await orders.order_to_pay(fetched, now) == order
    # Another page's session read did not bring it along (nor pay for it): that page asks.
    elsewhere = await loaded(buyer, now, path="/feed")
    assert elsewhere.read_with_session == {}
    assert await orders.order_to_pay(elsewhere, now) == order


async def test_a_visitors_session_reads_nothing_along() -> None:
    now = datetime.now(UTC)
    key, _ = await sessions.begin_with_key(
        "visitor-key-" + "x" * 20, None, now=now, user_agent="tests", address="", data={}
    )
    session = await sessions.load(key, now=now, lifetimes=LIFETIMES)
    assert session is not None and session.user is None


def test_the_subquery_names_the_status_the_model_writes() -> None:
    assert f"'{OrderStatus.PENDING_PAYMENT.value}'" in orders.PENDING_ORDER.sql


def test_scalars_are_composed_into_the_statement_of_the_pages_that_use_them() -> None:
    scalars = sessions.SessionScalars()
    assert "along_" not in scalars.for_path("/")[0]
    first = sessions.SessionScalar("first", "-- a comment\n(SELECT 1)\n-- last comment\n")
    scalars.add(first, paths={"/", "/account"})
    scalars.add(sessions.SessionScalar("second", "(SELECT 2)"), paths={"/"})
    statement, names = scalars.for_path("/")
    assert names == ["first", "second"]
    assert "    (SELECT 1) AS along_first__,\n" in statement
    assert "    (SELECT 2) AS along_second__,\n" in statement
    assert statement.index("along_second__") < statement.index("session_unread__")
    assert scalars.for_path("/account")[1] == ["first"]
    elsewhere, none = scalars.for_path("/feed")
    assert none == [] and "along_" not in elsewhere
    for bad in ("first", "no spaces", "1st"):
        with pytest.raises(ValueError):
            scalars.add(sessions.SessionScalar(bad, "(SELECT 2)"), paths={"/"})
