"""Changes reach every host at once (changes.py): two app processes on one database, a change
made through one, seen through the other within 200 ms, though each keeps the thing in memory
for a second or more: a product (the sold-out memory), a feed item (the feed's answers, 5 s),
the watched words (the automaton, 1 s).

On PostgreSQL the bus is NOTIFY (the PostgreSQL pass); with REDIS_URL it is Redis pub/sub (the
SQLite pass, whose two processes share the database file: the bus does not depend on it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

import changes
from community.feed import editing
from settings import Settings
from store import services as store
from tests.conftest import database_kind
from tests.factories import bearer, make_member, make_user, token_for
from tests.live import running_server
from wiring import Wiring

WITHIN = 0.2
# Long enough that a worker's memory would have lapsed by itself (the feed's is 5 s): a test
# that only waited would see the change, late, and fail on the 200 ms.
GIVE_UP = 6.0
REDIS_DB = "redis://127.0.0.1:6379/14"  # this test's alone: its rate limits start empty


async def seen_within(check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds from now until `check` first holds (polled every 10 ms), or GIVE_UP."""
    started = time.monotonic()
    while time.monotonic() - started < GIVE_UP:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.01)
    return GIVE_UP


async def redis_env() -> dict[str, str]:
    client = aioredis.Redis.from_url(REDIS_DB)
    try:
        await client.ping()
        await client.flushdb()
    except (OSError, aioredis.ConnectionError):
        pytest.skip("no Redis at 127.0.0.1:6379")
    finally:
        await client.aclose()
    return {"REDIS_URL": REDIS_DB}


@pytest.fixture
async def two_hosts(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    bus = request.param
    if bus == "notify" and database_kind() != "postgres":
        pytest.skip("PostgreSQL's NOTIFY: the PostgreSQL pass")
    if bus == "redis" and database_kind() == "postgres":
        pytest.skip("the Redis bus: proven in the SQLite pass (the bus is the same on both)")
    env = await redis_env() if bus == "redis" else {}
    with running_server(settings, env=env) as one, running_server(settings, env=env) as other:
        async with (
            httpx.AsyncClient(base_url=one, timeout=10) as a,
            httpx.AsyncClient(base_url=other, timeout=10) as b,
        ):
            yield a, b


@pytest.mark.parametrize("two_hosts", ["notify", "redis"], indirect=True)
async def test_a_change_through_one_host_is_seen_through_the_other_within_200_ms(
    two_hosts: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_hosts
    admin = bearer(await token_for(await make_user(admin=True)))
    members = [bearer(await token_for(await make_member())) for _ in range(3)]
    now = datetime.now(UTC)

    # A product: host B answers "sold out" from memory, for as long as buyers keep asking.
    product = await store.create_product(
        title="《变量》签名本", description="", category="图书", price_fen=6_800, stock=0
    )
    wanted = {"items": [{"product_id": product.id, "quantity": 1}]}
    refused = await b.post("/api/v1/orders", json=wanted, headers=members[0])
    assert refused.status_code == 409, refused.text
    restocked = await a.post(
        f"/api/v1/admin/products/{product.id}/stock", json={"change": 1}, headers=admin
    )
    assert restocked.status_code == 200, restocked.text

    async def b_sells() -> bool:
        answer = await b.post("/api/v1/orders", json=wanted, headers=members[0])
        return answer.status_code == 201

    assert await seen_within(b_sells) < WITHIN

    # A feed item: host B keeps its feed's answers for 5 s.
    item = await editing.create_item(title="罗胖60秒：变量", body="……", keyword="变量", now=now)

    async def b_lists_it() -> bool:
        page = (await b.get("/api/v1/feed", headers=members[1])).json()
        return any(entry["id"] == item.id for entry in page["items"])

    assert await seen_within(b_lists_it) < GIVE_UP  # (first read: B has no answer yet)
    gone = await a.post(f"/api/v1/admin/feed-items/{item.id}/unpublish", headers=admin)
    assert gone.status_code == 200, gone.text

    async def b_dropped_it() -> bool:
        return not await b_lists_it()

    assert await seen_within(b_dropped_it) < WITHIN

    # The watched words: host B's automaton is read again at most once a second.
    post = await b.post(
        "/api/v1/board/posts",
        json={"category": "knowledge", "title": "读书会", "body": "每周三晚上见"},
        headers=members[2],
    )
    assert post.status_code == 201, post.text
    post_id = post.json()["id"]
    replies = iter(range(1_000))

    async def b_blocks_it() -> bool:
        reply = await b.post(
            f"/api/v1/board/posts/{post_id}/replies",
            json={"body": f"加我微信 {next(replies)}"},
            headers=members[next(replies) % 3],
        )
        assert reply.status_code in (201, 422), reply.text
        return reply.status_code == 422 and reply.json()["error"]["code"] == "blocked_words"

    assert not await b_blocks_it()  # B's automaton is fresh, without the word
    blocked = {"action": "block", "words": ["加我微信"]}
    watched = await a.post("/api/v1/admin/watched-words", json=blocked, headers=admin)
    assert watched.status_code == 201, watched.text
    assert await seen_within(b_blocks_it) < WITHIN


@pytest.mark.postgres_only
async def test_a_listener_that_lost_its_connection_forgets_everything_and_listens_again(
    settings: Settings,
) -> None:
    bus = changes.PostgresBus(settings.direct_url)
    heard: list[changes.Change | None] = []
    listening = asyncio.create_task(bus.listen(heard.append))
    try:
        assert await seen_within(_holds(lambda: heard == [None])) < GIVE_UP
        await bus.publish(changes.Change(changes.PRODUCT, "7"))
        assert await seen_within(_holds(lambda: len(heard) == 2)) < 1
        assert heard[1] == changes.Change(changes.PRODUCT, "7")
        # Its connection dies (a failover, a restart): whatever was announced meanwhile is
        # lost, so the listener, back, says so (None), and hears what follows.
        direct = await asyncpg.connect(settings.direct_url.replace("postgres://", "postgresql://"))
        try:
            ended = await direct.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        finally:
            await direct.close()
        assert ended == 1
        assert await seen_within(_holds(lambda: heard[2:] == [None])) < GIVE_UP
        await bus.publish(changes.Change(changes.FEED))
        assert await seen_within(_holds(lambda: heard[3:] == [changes.Change(changes.FEED)])) < 1
    finally:
        listening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listening


async def test_an_announcement_that_cannot_be_sent_does_not_fail_the_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The change is committed before it is announced: a bus that is down, or that takes the
    connection and never answers, costs freshness (the memories' own second), never the
    admin's request, which waits at most PUBLISH_SECONDS."""

    taken: list[asyncio.StreamWriter] = []

    async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        taken.append(writer)  # held open, unanswered, until the test ends

    silent = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        for url in ("redis://127.0.0.1:1/0", f"redis://127.0.0.1:{port}/0"):  # refused; silent
            down = changes.RedisBus(url)
            started = time.monotonic()
            with Wiring(((changes.BUS, down),)).bound():
                await changes.announce(changes.PRODUCT, 7)
            assert time.monotonic() - started < changes.PUBLISH_SECONDS + 0.3
            await down.aclose()
    finally:
        for writer in taken:
            writer.close()
        silent.close()
        await silent.wait_closed()
    assert caplog.text.count("changes: not announced") == 2


def test_payloads_from_elsewhere_are_ignored() -> None:
    assert changes.Change.decode("product:12") == changes.Change("product", "12")
    assert changes.Change.decode("feed:") == changes.Change("feed")
    assert changes.Change.decode("something_else:1") is None
    assert changes.Change.decode("product:" + "9" * 41) is None


def _holds(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check
