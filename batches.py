"""Statements that wait in a worker go to PostgreSQL together: one round trip and one commit for
up to a batch of them. The store's holds and membership's seat holds both run through one
StatementBatch each (in their worker memory); nothing else knows how batches are formed.

Alone, a statement goes at once (a batch of one). Under a crowd, while HOLD_BATCHES_AT_ONCE
batches are in the database, the rest of the crowd waits here, cheaply, and goes in the next
batch of up to `size`: the admission bound of a rush. A batch is one call of a `_many` function
that answers one row per element, in order; business refusals are rows, never errors, so one
caller's refusal does not undo another's statement. A batch that deadlocks (one account behind
two tokens in two workers at once) is rolled back whole and each of its statements is run alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db import AsyncpgClient

log = logging.getLogger(__name__)

Row = Mapping[str, Any]


@dataclass
class StatementBatch:
    """Statements waiting for one function pair: `one_sql` runs one set of parameters,
    `many_sql` the same with every parameter an array (one element per statement). `order`
    sorts a batch (by the rows each statement locks) so two batches lock in the same order."""

    one_sql: str
    many_sql: str
    order: Callable[[Sequence[Any]], Any]
    size: int = 16
    at_once: int = 2
    waiting: list[tuple[Sequence[Any], asyncio.Future[Row]]] = field(default_factory=list)
    runners: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, connection: AsyncpgClient, params: Sequence[Any]) -> Row:
        """The answer row for `params`, run alone or in a batch with others waiting."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Row] = loop.create_future()
        self.waiting.append((params, answer))
        # A runner is done the moment it has found nothing waiting (no await between its last
        # look and its end), so counting the ones not done never misses a statement.
        running = sum(1 for r in self.runners if r.get_loop() is loop and not r.done())
        if running < self.at_once:
            runner = loop.create_task(self._run_batches(connection))
            self.runners.add(runner)  # a reference, so the running task is not collected
            runner.add_done_callback(self.runners.discard)
        return await answer

    async def _run_batches(self, connection: AsyncpgClient) -> None:
        waiting = self.waiting
        while waiting:
            batch = [
                (params, answer) for params, answer in waiting[: self.size] if not answer.done()
            ]
            del waiting[: self.size]
            if not batch:
                continue  # every caller of these went away before their turn
            batch.sort(key=lambda waiting_one: self.order(waiting_one[0]))
            try:
                rows = await self._one_batch(connection, [params for params, _ in batch])
            except Exception as exc:
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (_, answer), row in zip(batch, rows, strict=True):
                if not answer.done():
                    answer.set_result(row)

    async def _one_batch(self, connection: AsyncpgClient, batch: list[Sequence[Any]]) -> list[Row]:
        if len(batch) > 1:
            try:
                columns = [list(column) for column in zip(*batch, strict=True)]
                return await connection.fetch_rows(self.many_sql, columns)
            except asyncpg.DeadlockDetectedError:
                log.warning(
                    "a batch of %d statements deadlocked; running them one by one", len(batch)
                )
        rows = []
        for params in batch:
            row = await connection.fetch_row(self.one_sql, params)
            if row is None:
                raise RuntimeError(f"{self.one_sql} answered no row")  # it always answers one
            rows.append(row)
        return rows
