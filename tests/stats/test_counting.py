"""What the pages count per day and per minute (in memory, then written by a flush), and what
a failed flush keeps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from accounts.models import Activity
from community.feed.audio import silent_mp3
from community.feed.models import FeedItemDay
from membership.models import WindowMinute
from store import analytics as store_analytics
from store import services as store
from store.models import ProductDay, ProductMinute
from tallies import Tally, TallyTable, flush, shanghai_day
from tests.community.conftest import write_item
from tests.factories import bearer, make_member, make_user, make_window, sign_in, token_for


async def test_pages_count_views_plays_lookups_per_day_and_per_reader(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    editor = bearer(await token_for(await make_user(role="admin")))
    item = (await write_item(client, editor, audio=silent_mp3(60))).json()
    reader = await make_member()
    await sign_in(client, reader.email)
    await client.get(f"/feed/items/{item['id']}")
    await client.get("/feed/lookup", params={"keyword": "认知"})
    await client.get(item["audio_url"])
    drop = await store.create_product(
        title="限量笔记本",
        description="",
        category="文具精选",
        price_fen=3_900,
        stock=3,
        sale_starts_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    await client.get(f"/store/products/{drop.id}")
    window = await make_window(now=datetime.now(UTC) - timedelta(minutes=1))
    await client.get("/membership")
    client.cookies.clear()
    await client.get(f"/feed/items/{item['id']}")  # nobody signed in: the item's day only

    await flush(app.state.memory.tally)

    today = shanghai_day(datetime.now(UTC))
    assert await FeedItemDay.filter(item_id=item["id"]).values_list(
        "day", "views", "plays", "lookups"
    ) == [(today, 2, 1, 1)]
    assert sorted(await Activity.filter(user_id=reader.id).values_list("kind", "count")) == [
        ("feed.lookup", 1),
        ("feed.play", 1),
        ("feed.view", 1),
        ("store.view", 1),
    ]
    assert await ProductDay.filter(product_id=drop.id).values_list("views", flat=True) == [1]
    assert await ProductMinute.filter(product_id=drop.id).values_list("views", flat=True) == [1]
    assert await WindowMinute.filter(window_id=window.id).values_list("views", flat=True) == [1]


async def test_a_product_far_from_its_sale_start_counts_per_day_only() -> None:
    plain = await store.create_product(
        title="书签", description="", category="文具精选", price_fen=900, stock=3
    )
    later = await store.create_product(
        title="明年的限量",
        description="",
        category="文具精选",
        price_fen=900,
        stock=3,
        sale_starts_at=datetime.now(UTC) + timedelta(days=30),
    )
    tally = Tally()
    store_analytics.count_product_view(tally, plain, None, datetime.now(UTC))
    store_analytics.count_product_view(tally, later, None, datetime.now(UTC))
    await flush(tally)
    assert await ProductDay.all().count() == 2
    assert await ProductMinute.all().count() == 0


async def test_a_failed_flush_keeps_every_count_for_the_next() -> None:
    user = await make_user()
    tally = Tally()
    missing = TallyTable("no_such_table", keys=("user_id",), counts=("n",))
    day = shanghai_day(datetime.now(UTC))
    activity = TallyTable("accounts_activity", keys=("user_id", "day", "kind"), counts=("count",))
    tally.add(activity, (user.id, day, "feed.view"), "count", 3)
    tally.add(missing, (1,), "n")
    with pytest.raises(Exception):  # noqa: B017 (the database's own error, whichever it is)
        await flush(tally)
    # Nothing was written (one transaction), and nothing was lost.
    assert await Activity.all().count() == 0
    assert tally.pending[(activity, (user.id, day, "feed.view"), "count")] == 3
    del tally.pending[(missing, (1,), "n")]
    assert await flush(tally) == 3
    assert await Activity.filter(user_id=user.id).values_list("count", flat=True) == [3]


@pytest.mark.postgres_only
async def test_workers_flushing_the_same_rows_at_once_add_up_exactly() -> None:
    """Eight workers' tallies of the same rows, in different orders, written at once: no
    deadlock (tables by name, keys sorted), and every count is there once."""
    day = shanghai_day(datetime.now(UTC))
    users = [await make_user() for _ in range(20)]
    item_days = TallyTable(
        "community_feed_item_day", keys=("item_id", "day"), counts=("views", "plays", "lookups")
    )
    activity = TallyTable("accounts_activity", keys=("user_id", "day", "kind"), counts=("count",))
    tallies = []
    for worker in range(8):
        tally = Tally()
        order = users if worker % 2 else list(reversed(users))
        for user in order:  # half the workers count the other way round, tables swapped
            if worker % 2:
                tally.add(activity, (user.id, day, "feed.view"), "count")
                tally.add(item_days, (user.id % 5, day), "views")
            else:
                tally.add(item_days, (user.id % 5, day), "views")
                tally.add(activity, (user.id, day, "feed.view"), "count")
        tallies.append(tally)
    written = await asyncio.gather(*(flush(tally) for tally in tallies))
    assert written == [40] * 8
    assert set(await Activity.all().values_list("count", flat=True)) == {8}
    assert await Activity.all().count() == 20
    assert sum(await FeedItemDay.all().values_list("views", flat=True)) == 8 * 20
