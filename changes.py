"""Changes every worker hears: what one host changed, every host's memories forget at once.

Each worker keeps a few things in memory for a second or a few (jobs.worker.WorkerMemory: a
product, an enrollment window, the feed's answers, the keyword rules, the watched words, the
legal documents' versions, whether the board is members-only). A service that changes one of
them forgets this worker's copy itself and announces the change here; every worker of every
host hears it and forgets its own copy, within a few milliseconds (tests/test_changes.py holds
it to 200 ms across two app processes).

The bus:
- **Redis** pub/sub when REDIS_URL is set (the hosts share it already for the rate limits);
- else **PostgreSQL's NOTIFY**, on channel `shuyuan_changes`. It is sent on the app's own
  connection, so it goes through PgBouncer too, and inside a transaction it leaves only when the
  transaction commits. LISTEN needs a session of its own, which transaction pooling cannot keep:
  each worker listens on one direct connection (Settings.direct_url), not through PgBouncer;
- SQLite (one host, development): no bus. A worker's memories expire after their second, as
  they do everywhere when an announcement is late.

Failure paths: an announcement that cannot be sent is logged and dropped (the change is already
committed; the memories' own expiry, a second or a few, still bounds how stale a copy gets). A
listener that loses its connection hears `None` when it is back ("you may have missed some"),
and the worker forgets every shared memory, then listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import redis.asyncio as aioredis
from tortoise import connections

from wiring import NotWired, Wire

log = logging.getLogger(__name__)

CHANNEL = "shuyuan_changes"
# What a memory holds, by name; an announcement of anything else is ignored by its listeners.
PRODUCT = "product"
WINDOW = "window"
FEED = "feed"
KEYWORDS = "keywords"
WATCHED_WORDS = "watched_words"
LEGAL = "legal"
# A post shown or taken away (the front page's liveliest threads), or the board made
# members-only or open again (key "settings").
BOARD = "board"
TOPICS = frozenset({PRODUCT, WINDOW, FEED, KEYWORDS, WATCHED_WORDS, LEGAL, BOARD})
KEY_CHARS = 40
# Waits between attempts to listen again after the connection is lost.
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
# A listener that hears nothing this long pings; one that hears nothing, pong included, for
# 2.5 times this gives its connection up and listens again.
QUIET_SECONDS = 10.0
# The longest an announcement may hold up the request or job that made the change.
PUBLISH_SECONDS = 0.5


@dataclass(frozen=True)
class Change:
    """Something workers keep in memory changed: `topic` (one of TOPICS), and which one of
    them (`key`, a product's id; empty: all of them)."""

    topic: str
    key: str = ""

    def encode(self) -> str:
        return f"{self.topic}:{self.key}"

    @classmethod
    def decode(cls, payload: str) -> Change | None:
        """The change a payload names, or None for one that names none (not ours, or from a
        newer release: ignored)."""
        topic, _, key = payload.partition(":")
        if topic not in TOPICS or len(key) > KEY_CHARS:
            return None
        return cls(topic, key)


# Called with each change heard, or None after a gap in which some may have been missed.
Heard = Callable[[Change | None], None]


class Bus(Protocol):
    async def publish(self, change: Change) -> None:
        """Send `change` to every listener (this worker's too)."""

    async def listen(self, heard: Heard) -> None:
        """Call `heard` with each change, until cancelled; reconnect when the connection is
        lost, and call `heard(None)` each time it is (re)established."""

    async def aclose(self) -> None:
        """Release connections."""


class NoBus:
    """SQLite's single host: nothing to tell."""

    async def publish(self, change: Change) -> None:
        return None

    async def listen(self, heard: Heard) -> None:
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        return None


async def _listen_again(session: Callable[[Heard], Awaitable[None]], heard: Heard) -> None:
    """Run `session` (which returns or raises once its connection is lost) again and again,
    waiting a little longer each time it fails before it listened (a session that listened
    and was lost later starts the count again)."""
    failures = 0

    def heard_here(change: Change | None) -> None:
        nonlocal failures
        if change is None:  # (re)connected and listening
            failures = 0
        heard(change)

    while True:
        try:
            await session(heard_here)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a lost or refused connection: listen again
            log.warning("changes: listening failed, again soon", extra={"error": repr(error)})
        wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
        failures += 1
        await asyncio.sleep(wait)


class PostgresBus:
    """NOTIFY on the app's connection; LISTEN on a direct one."""

    def __init__(self, direct_url: str) -> None:
        self.direct_url = direct_url.replace("postgres://", "postgresql://", 1)

    async def publish(self, change: Change) -> None:
        await connections.get("default").execute_query(
            "SELECT pg_notify($1, $2)", [CHANNEL, change.encode()]
        )

    async def listen(self, heard: Heard) -> None:
        await _listen_again(self._session, heard)

    async def _session(self, heard: Heard) -> None:
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def notified(_connection: object, _pid: int, _channel: str, payload: str) -> None:
            change = Change.decode(payload)
            if change is not None:
                heard(change)

        def terminated(_connection: object) -> None:
            if not lost.done():
                lost.set_result(None)

        connection = await asyncpg.connect(self.direct_url, timeout=5)
        try:
            connection.add_termination_listener(terminated)
            await connection.add_listener(CHANNEL, notified)
            heard(None)  # anything announced before this moment was missed
            while not lost.done():
                # A connection dropped without a word (a host's network gone) shows here.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(lost), timeout=10)
                if not lost.done():
                    await connection.fetchval("SELECT 1", timeout=5)
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    async def aclose(self) -> None:
        return None


class RedisBus:
    """PUBLISH and SUBSCRIBE on the Redis the hosts share."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        # Announcing waits on nothing slow: a Redis that does not answer within this fails the
        # announcement (logged), not the admin's request after it.
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            redis_url, socket_timeout=PUBLISH_SECONDS, socket_connect_timeout=PUBLISH_SECONDS
        )

    async def publish(self, change: Change) -> None:
        await self.client.publish(CHANNEL, change.encode())

    async def listen(self, heard: Heard) -> None:
        await _listen_again(self._session, heard)

    async def _session(self, heard: Heard) -> None:
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(CHANNEL)
                heard(None)
                last_word = time.monotonic()
                while True:
                    message = await pubsub.get_message(timeout=QUIET_SECONDS)
                    if message is None:
                        # Nothing for a while: ask. A connection gone half-open (a NAT's
                        # timeout, a failover) neither errs nor answers; it is given up on.
                        if time.monotonic() - last_word > 2.5 * QUIET_SECONDS:
                            raise ConnectionError("Redis did not answer a ping")
                        await pubsub.ping()
                        continue
                    last_word = time.monotonic()  # any message, a pong too
                    data = message.get("data")
                    if isinstance(data, bytes):
                        change = Change.decode(data.decode("utf-8", "replace"))
                        if change is not None:
                            heard(change)
        finally:
            await client.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()


def make_bus(*, redis_url: str | None, postgres_url: str | None) -> Bus:
    """Redis when it is configured, else PostgreSQL's NOTIFY, else (SQLite) none."""
    if redis_url:
        return RedisBus(redis_url)
    if postgres_url:
        return PostgresBus(postgres_url)
    return NoBus()


BUS: Wire[Bus] = Wire("changes.BUS")
# What this worker forgets when it announces a change itself (jobs.worker.WorkerMemory.heard):
# at once, before the bus carries the change to the others (and back here, which costs a read).
HERE: Wire[Heard] = Wire("changes.HERE")


async def announce(topic: str, key: object = "") -> None:
    """Tell every worker that `topic` (`key` of it) changed: this one's memories forget it at
    once (HERE), the others when the bus brings it. Call it after the change is committed.
    Never raises: the change is already made (see the module's failure paths)."""
    change = Change(topic, str(key))
    if topic not in TOPICS or len(change.key) > KEY_CHARS:
        raise ValueError(f"not a change workers keep: {change}")  # a programming error
    with contextlib.suppress(NotWired):  # a script outside any app: no memory of its own
        HERE.get()(change)
    try:
        bus = BUS.get()
    except NotWired:  # a script outside any app: no worker to tell
        return
    try:
        await asyncio.wait_for(bus.publish(change), PUBLISH_SECONDS)
    except Exception as error:  # Redis's, asyncpg's, or Tortoise's wrapping of them
        log.warning(
            "changes: not announced", extra={"change": change.encode(), "error": repr(error)}
        )
