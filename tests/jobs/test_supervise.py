"""`shuyuan worker`'s supervisor, with stand-in workers: it starts a worker that stopped on its
own again once the database answers, exits 1 when the database stays away or the worker keeps
stopping, and 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal

from jobs.supervisor import MAX_RESTARTS, supervise


async def test_a_worker_that_keeps_stopping_while_the_database_answers_exits_1() -> None:
    starts = 0

    async def stops_at_once() -> None:
        nonlocal starts
        starts += 1

    async def answers() -> bool:
        return True

    code = await supervise(
        stops_at_once, database_answers=answers, reconnect_for=60, first_pause=0.001
    )
    assert code == 1
    assert starts == MAX_RESTARTS + 1


async def test_a_database_that_stays_away_exits_1_and_one_that_comes_back_restarts() -> None:
    answers_after = 3
    asked = 0
    starts = 0
    second_start = asyncio.Event()

    async def worker() -> None:
        nonlocal starts
        starts += 1
        if starts == 2:
            second_start.set()
            await asyncio.Event().wait()  # the second start runs until the stop below

    async def database() -> bool:
        nonlocal asked
        asked += 1
        return asked >= answers_after

    running = asyncio.create_task(
        supervise(worker, database_answers=database, reconnect_for=30, first_pause=0.001)
    )
    await asyncio.wait_for(second_start.wait(), timeout=30)
    os.kill(os.getpid(), signal.SIGTERM)  # asked to stop: a clean exit
    assert await running == 0
    assert asked == answers_after  # waited for the database, then started again

    async def never() -> bool:
        return False

    async def stops() -> None:
        return None

    assert await supervise(stops, database_answers=never, reconnect_for=0.05, first_pause=0.01) == 1
