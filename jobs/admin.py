"""The console's jobs section: where the background jobs run, when each periodic job last ran
(an overdue one flagged), how deep the queue is, and the parked jobs (every retry failed) with
their attempts. Page and API are twins over jobs.queue and jobs.runs; refresh_gauges is the same
for /metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import metrics
from accounts.roles import Capability
from jobs import queue, runs
from jobs.schedule import PERIODIC
from web.api import Answer, iso, json_response, operation
from web.auth import staff_only
from web.rendering import render


class ParkedJob(Answer):
    id: int
    task_name: str
    attempts: int
    scheduled_at: str | None


class PeriodicJob(Answer):
    name: str
    every_seconds: int
    last_started_at: str | None
    last_succeeded_at: str | None
    last_failed_at: str | None
    overdue: bool  # last success more than three periods ago, or never


class JobQueue(Answer):
    runs_in: str
    periodic: list[str]
    depth: dict[str, int]
    parked: list[ParkedJob]
    jobs: list[PeriodicJob]


def _when(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


async def _health(now: datetime) -> list[runs.JobHealth]:
    return await runs.periodic_health([(job.name, job.every_seconds) for job in PERIODIC], now=now)


async def _queue(request: Request) -> dict[str, Any]:
    runs_in = request.app.state.settings.jobs
    return {
        "runs_in": runs_in,
        "periodic": [f"{job.name} ({job.every_seconds} s)" for job in PERIODIC],
        "depth": await queue.depth(runs_in),
        "parked": [
            {
                "id": row["id"],
                "task_name": row["task_name"],
                "attempts": row["attempts"],
                "scheduled_at": iso(row["scheduled_at"]) if row["scheduled_at"] else None,
            }
            for row in await queue.parked(runs_in)
        ],
        "jobs": await _health(datetime.now(UTC)),
    }


def _job_json(job: runs.JobHealth) -> dict[str, Any]:
    return {
        "name": job.name,
        "every_seconds": job.every_seconds,
        "last_started_at": _when(job.last_started_at),
        "last_succeeded_at": _when(job.last_succeeded_at),
        "last_failed_at": _when(job.last_failed_at),
        "overdue": job.overdue,
    }


async def refresh_gauges(runs_in: str) -> None:
    """The queue's depth and each periodic job's lateness, for a /metrics scrape."""
    for status, count in (await queue.depth(runs_in)).items():
        metrics.JOBS.labels(status=status).set(count)
    now = datetime.now(UTC)
    for job in await _health(now):
        metrics.JOB_OVERDUE.labels(job=job.name).set(1 if job.overdue else 0)
        since = job.seconds_since_success(now)
        if since is not None:
            metrics.JOB_SINCE_SUCCESS.labels(job=job.name).set(since)


@staff_only(Capability.JOBS)
async def admin_page(request: Request) -> Response:
    return await render(request, "jobs/admin.html", await _queue(request))


@operation(
    "The background jobs: where they run, when each periodic job last ran (overdue flagged), "
    "the queue's depth, and parked jobs (admins)",
    answer=JobQueue,
    auth="admin",
    tag="jobs",
)
@staff_only(Capability.JOBS)
async def admin_api(request: Request) -> Response:
    answer = await _queue(request)
    return json_response({**answer, "jobs": [_job_json(job) for job in answer["jobs"]]})


def routes() -> list[BaseRoute]:
    return [Route("/admin/jobs", admin_page, methods=["GET"], name="jobs.admin_page")]


def api_routes() -> list[BaseRoute]:
    return [Route("/admin/jobs", admin_api, methods=["GET"], name="jobs.admin_api")]
