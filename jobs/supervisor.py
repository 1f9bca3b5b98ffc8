"""Keeping `shuyuan worker` running: procrastinate's worker started again when it stops on its
own (it does when a side task loses the database), once the database answers; a clean stop on
SIGTERM or SIGINT, with the jobs under way finished first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from tortoise import connections


async def database_answers(engine: Any) -> bool:
    """Whether both of the worker's ways to the database (the job engine's pool, the ORM's)
    answer a query now."""
    try:
        async with asyncio.timeout(5):  # a pool waiting for a connection waits 30 s
            await engine.connector.execute_query_one_async("SELECT 1 AS one")
            await connections.get("default").execute_query("SELECT 1")
    except Exception:
        return False
    return True


# Jobs under way get this long to finish after SIGTERM; then they are cancelled (and retried).
SHUTDOWN_GRACE_SECONDS = 30
# A worker that keeps stopping on its own while the database answers is broken otherwise.
MAX_RESTARTS = 5


async def supervise(
    run_worker: Callable[[], Coroutine[Any, Any, None]],
    *,
    database_answers: Callable[[], Awaitable[bool]],
    reconnect_for: float,
    first_pause: float = 0.5,
) -> int:
    """Run the worker until SIGTERM or SIGINT (then 0, once the jobs under way finish).

    procrastinate stops its worker, without an error, when a side task (the LISTEN
    connection, the heartbeat) loses the database: a PostgreSQL restart would end every
    background job for good. Here a worker that stops on its own is started again, after a
    pause that doubles each time, once the database answers. It exits 1 (so a supervisor's
    Restart=on-failure sees it and an operator is told) when the database does not answer
    within `reconnect_for` seconds, or when the worker stopped MAX_RESTARTS times within that
    while the database answered (something else is wrong).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log = logging.getLogger("jobs.worker")
    stops: list[float] = []
    pause = first_pause
    try:
        while True:
            worker = asyncio.create_task(run_worker(), name="worker")
            stopping = asyncio.create_task(stop.wait(), name="stop")
            await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                worker.cancel()  # procrastinate's graceful stop: running jobs finish first
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                return 0
            stopping.cancel()
            error = worker.exception()
            log.error("the worker stopped on its own (%r); waiting for the database", error)
            stops = [moment for moment in stops if loop.time() - moment < reconnect_for]
            if not stops:
                pause = first_pause  # the last stop was long ago: start the pauses afresh
            stops.append(loop.time())
            if len(stops) > MAX_RESTARTS:
                log.critical(
                    "the worker stopped %d times in %.0f s: exiting", len(stops), reconnect_for
                )
                return 1
            deadline = loop.time() + reconnect_for
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
                pause = min(pause * 2, 10.0)
                if stop.is_set():
                    return 0
                if await database_answers():
                    break
                if loop.time() >= deadline:
                    log.critical("the database did not answer for %.0f s: exiting", reconnect_for)
                    return 1
            log.warning("the database answers again: the worker starts again")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
