"""Jobs only the tests run (`shuyuan worker --also tests.jobs.for_tests`): a quick tick, a slow
job to kill a worker in the middle of, and one that always fails."""

from __future__ import annotations

import asyncio
from datetime import datetime

from jobs.schedule import Job, JobContext

SLOW_SECONDS = 6


async def tick(context: JobContext, now: datetime) -> int:
    return 1


async def slow(context: JobContext, now: datetime) -> int:
    await asyncio.sleep(SLOW_SECONDS)
    return 1


async def fails(context: JobContext, now: datetime) -> int:
    raise RuntimeError("this job always fails")


JOBS = (
    Job("tests.tick", 2, tick),
    Job("tests.slow", 1800, slow),
    Job("tests.fails", 1800, fails),
)
