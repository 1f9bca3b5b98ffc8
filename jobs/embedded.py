"""The embedded scheduler (SQLite, one process): the jobs of schedule.PERIODIC, each on its
period, inside the web process. The same functions the worker runs; nothing else runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from jobs.schedule import PERIODIC, Job, JobContext, run_timed

log = logging.getLogger(__name__)


async def run_once(job: Job, context: JobContext) -> None:
    """One run of `job`; an error is logged and the next period tries again (embedded jobs
    have no queue to park a failure in)."""
    try:
        await run_timed(job, context)
    except Exception:
        log.exception("job failed", extra={"job": job.name})


async def _every(job: Job, context: JobContext) -> None:
    while True:
        await asyncio.sleep(job.every_seconds)
        await run_once(job, context)


@asynccontextmanager
async def embedded_jobs(context: JobContext, jobs: Sequence[Job] = PERIODIC) -> AsyncIterator[None]:
    """Run `jobs` in this process while the context is open."""
    tasks = [asyncio.create_task(_every(job, context), name=job.name) for job in jobs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
