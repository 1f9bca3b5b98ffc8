"""When each periodic job last ran, and whether one is overdue: what an operator checks first
when mail stops or holds are not released (the jobs page, its API twin, and /metrics)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from jobs.models import JobRun

log = logging.getLogger(__name__)
# A job is overdue when its last success is more than this many periods old (or it never ran).
OVERDUE_AFTER_PERIODS = 3


async def record_run(name: str, *, started_at: datetime, succeeded: bool) -> None:
    """Note that a run of job `name` that started at `started_at` has ended (succeeded or not).
    Best effort: a database that cannot take the note (it may be what failed the job) is
    logged, never raised, so the note cannot fail a job that did its work."""
    changes = {"last_started_at": started_at}
    changes["last_succeeded_at" if succeeded else "last_failed_at"] = started_at
    try:
        if not await JobRun.filter(name=name).update(**changes):
            try:
                await JobRun(name=name, **changes).save(force_create=True)
            except IntegrityError:  # another worker wrote the first row meanwhile
                await JobRun.filter(name=name).update(**changes)
    except Exception:
        log.warning("could not record a run of %s", name, exc_info=True)


@dataclass(frozen=True)
class JobHealth:
    name: str
    every_seconds: int
    last_started_at: datetime | None
    last_succeeded_at: datetime | None
    last_failed_at: datetime | None
    overdue: bool

    def seconds_since_success(self, now: datetime) -> float | None:
        if self.last_succeeded_at is None:
            return None
        return (now - self.last_succeeded_at).total_seconds()


async def periodic_health(jobs: Sequence[tuple[str, int]], *, now: datetime) -> list[JobHealth]:
    """Each (name, period in seconds) of `jobs` with its last runs; overdue when its last
    success is older than OVERDUE_AFTER_PERIODS periods, or it has never succeeded."""
    runs = {run.name: run for run in await JobRun.filter(name__in=[name for name, _ in jobs])}
    health = []
    for name, every in jobs:
        run = runs.get(name)
        succeeded = run.last_succeeded_at if run else None
        late = timedelta(seconds=every * OVERDUE_AFTER_PERIODS)
        health.append(
            JobHealth(
                name=name,
                every_seconds=every,
                last_started_at=run.last_started_at if run else None,
                last_succeeded_at=succeeded,
                last_failed_at=run.last_failed_at if run else None,
                overdue=succeeded is None or now - succeeded > late,
            )
        )
    return health
