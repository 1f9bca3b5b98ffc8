"""Sliding-window attempt counters, in Redis when configured and in this process otherwise.

Each key keeps a count per fixed window; the reported count is the current window's plus the
previous window's weighted by how much of it still overlaps the sliding window. Unlike a plain
fixed window, the count does not drop to zero at a window boundary, so a guesser cannot get twice
the limit by straddling one (and a limit reached just before a boundary still holds after it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis


@dataclass(frozen=True)
class Limit:
    """At most `attempts` events per `window_seconds` for one key."""

    attempts: int
    window_seconds: int


class Counter(Protocol):
    async def hit(self, key: str, limit: Limit) -> int:
        """Count one event for `key`; return how many fall in its current window."""

    async def count(self, key: str, limit: Limit) -> int:
        """How many events `key` has in its current window, without counting one."""

    async def undo(self, key: str, limit: Limit) -> None:
        """Take back one event of `key`'s current window (one counted before it was known to
        be a failure, which turned out a success)."""

    async def reset(self, key: str) -> None:
        """Forget `key`."""

    async def aclose(self) -> None:
        """Release connections."""


def _window(limit: Limit, now: float) -> int:
    return int(now // limit.window_seconds)


def _sliding(limit: Limit, now: float, current: int, previous: int) -> int:
    """Events in the window ending now: all of `current`, the overlapping share of `previous`."""
    elapsed = (now % limit.window_seconds) / limit.window_seconds
    return current + math.ceil(previous * (1.0 - elapsed))


def seconds_left(limit: Limit, now: float | None = None) -> int:
    """Seconds until the current window of `limit` ends (at least 1)."""
    now = time.time() if now is None else now
    return max(1, int(limit.window_seconds - now % limit.window_seconds))


class MemoryCounter:
    """Per-process counters; right for one worker and for development."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        # key -> (window number, count in that window, count in the window before it)
        self._counts: dict[str, tuple[int, int, int]] = {}

    def _read(self, key: str, window: int) -> tuple[int, int]:
        stored_window, count, before = self._counts.get(key, (window, 0, 0))
        if stored_window == window:
            return count, before
        if stored_window == window - 1:
            return 0, count
        return 0, 0

    async def hit(self, key: str, limit: Limit) -> int:
        now = self._clock()
        window = _window(limit, now)
        current, previous = self._read(key, window)
        self._counts[key] = (window, current + 1, previous)
        if len(self._counts) > 100_000:
            self._forget_old(window)
        return _sliding(limit, now, current + 1, previous)

    async def count(self, key: str, limit: Limit) -> int:
        now = self._clock()
        current, previous = self._read(key, _window(limit, now))
        return _sliding(limit, now, current, previous)

    async def undo(self, key: str, limit: Limit) -> None:
        window = _window(limit, self._clock())
        stored = self._counts.get(key)
        if stored is not None and stored[0] == window and stored[1] > 0:
            self._counts[key] = (window, stored[1] - 1, stored[2])

    async def reset(self, key: str) -> None:
        self._counts.pop(key, None)

    async def aclose(self) -> None:
        self._counts.clear()

    def _forget_old(self, window: int) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[0] >= window - 1}


class RedisCounter:
    """Counters shared by every worker and every machine that uses the same Redis."""

    def __init__(
        self, url: str, prefix: str = "shuyuan:rl:", clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._redis = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def _key(self, key: str, window: int) -> str:
        return f"{self._prefix}{key}:{window}"

    async def hit(self, key: str, limit: Limit) -> int:
        now = self._clock()
        window = _window(limit, now)
        redis_key = self._key(key, window)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(redis_key)
            # Kept for two windows: the next window still weighs this one.
            pipe.expire(redis_key, 2 * limit.window_seconds + 1)
            pipe.get(self._key(key, window - 1))
            count, _, previous = await pipe.execute()
        return _sliding(limit, now, int(count), int(previous or 0))

    async def count(self, key: str, limit: Limit) -> int:
        now = self._clock()
        window = _window(limit, now)
        current, previous = await self._redis.mget(
            self._key(key, window), self._key(key, window - 1)
        )
        return _sliding(limit, now, int(current or 0), int(previous or 0))

    async def undo(self, key: str, limit: Limit) -> None:
        redis_key = self._key(key, _window(limit, self._clock()))
        if int(await self._redis.get(redis_key) or 0) > 0:
            await self._redis.decr(redis_key)

    async def reset(self, key: str) -> None:
        keys = [k async for k in self._redis.scan_iter(match=f"{self._prefix}{key}:*")]
        if keys:
            await self._redis.delete(*keys)

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_counter(redis_url: str | None) -> Counter:
    """Redis counters when a URL is configured, per-process ones otherwise."""
    return RedisCounter(redis_url) if redis_url else MemoryCounter()
