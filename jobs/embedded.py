"""The embedded scheduler (SQLite, one process): the jobs of schedule.PERIODIC, each on its
period, inside the web process. The same functions the worker runs; nothing else runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from jobs.schedule import PERIODIC, Job, JobContext, utc_now
from metrics import JOB_SECONDS

log = logging.getLogger(__name__)


async def run_once(job: Job, context: JobContext) -> None:
    """One run of `job`, timed and logged; an error is logged and the next period tries again
    (embedded jobs have no queue to park a failure in)."""
    started = time.perf_counter()
    outcome = "succeeded"
    try:
        done = await job.run(context, utc_now())
        if done:
            log.info("job done", extra={"job": job.name, "result": str(done)})
    except Exception:
        outcome = "failed"
        log.exception("job failed", extra={"job": job.name})
    finally:
        JOB_SECONDS.labels(job=job.name, outcome=outcome).observe(time.perf_counter() - started)


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
