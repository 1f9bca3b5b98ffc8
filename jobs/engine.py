"""The job engine on PostgreSQL: procrastinate, driven by `shuyuan worker`.

Why procrastinate (the comparison is in the issue note): jobs are rows in our own PostgreSQL,
committed like any other write (durable, at-least-once), periodic jobs are deferred once per
period by a unique row however many workers run, it is asyncio-native, and it needs no broker
and no scheduler process of its own. Each job of schedule.PERIODIC becomes a periodic task;
a failed run is retried with backoff and then left `failed`, where the admin job list shows
it. Workers send heartbeats; every few seconds one of them gives the jobs of a worker that
stopped beating (killed mid-job) to another.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import procrastinate
from procrastinate import PsycopgConnector, RetryStrategy

from jobs.schedule import PERIODIC, Job, JobContext, run_timed

log = logging.getLogger(__name__)
RETRY = RetryStrategy(max_attempts=3, exponential_wait=2)  # then parked as failed
HEARTBEAT_SECONDS = 2.0
STALLED_AFTER_SECONDS = 8.0  # no heartbeat this long: the worker is gone, its jobs go on


def cron(every_seconds: int) -> str:
    """A cron line with procrastinate's sixth (seconds) column for `every_seconds`."""
    if every_seconds < 60 and 60 % every_seconds == 0:
        return f"* * * * * */{every_seconds}"
    if every_seconds % 60 == 0 and every_seconds // 60 < 60:
        return f"*/{every_seconds // 60} * * * * 0"
    raise ValueError(f"no cron period for {every_seconds} s")


def conninfo(database_url: str) -> str:
    return database_url.replace("postgres://", "postgresql://", 1)


def make_engine(
    database_url: str, context: JobContext | None, jobs: Sequence[Job] = PERIODIC
) -> procrastinate.App:
    """A procrastinate app with `jobs` as periodic tasks, run with `context`. Without a
    context (the web app, which only reads the queue) nothing can run."""
    engine = procrastinate.App(connector=PsycopgConnector(conninfo=conninfo(database_url)))
    for job in jobs:
        _periodic(engine, job, context)

    @engine.periodic(cron=cron(5), periodic_id="stalled")
    @engine.task(name="jobs.retry_stalled")
    async def retry_stalled(timestamp: int) -> int:
        """Jobs left `doing` by a worker that stopped sending heartbeats start again."""
        stalled = list(
            await engine.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS)
        )
        for stuck in stalled:
            log.warning("retrying a stalled job", extra={"job": stuck.task_name, "id": stuck.id})
            await engine.job_manager.retry_job(stuck)
        await engine.job_manager.prune_stalled_workers(STALLED_AFTER_SECONDS)
        return len(stalled)

    return engine


def _periodic(engine: procrastinate.App, job: Job, context: JobContext | None) -> None:
    async def run(timestamp: int) -> None:
        if context is None:
            raise RuntimeError(f"{job.name} needs a worker's context")
        await run_timed(job, context)  # an error makes procrastinate retry, then park it

    run.__name__ = run.__qualname__ = job.name.replace(".", "_")
    task = engine.task(name=job.name, retry=RETRY, pass_context=False)(run)
    engine.periodic(cron=cron(job.every_seconds), periodic_id=job.name)(task)


async def schema_installed(engine: procrastinate.App) -> bool:
    row = await engine.connector.execute_query_one_async(
        "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
    )
    return bool(row["present"])


async def install_schema(database_url: str) -> bool:
    """Apply procrastinate's schema once (`shuyuan migrate` on PostgreSQL); True if applied."""
    engine = procrastinate.App(connector=PsycopgConnector(conninfo=conninfo(database_url)))
    async with engine.open_async():
        if await schema_installed(engine):
            return False
        await engine.schema_manager.apply_schema_async()
    return True
