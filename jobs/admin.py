"""Admins see the job queue: where jobs run, how deep the queue is, and the parked jobs (every
retry failed) with their attempts. Page and API are twins over jobs.queue."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobs import queue
from jobs.schedule import PERIODIC
from web.api import Answer, iso, json_response, operation
from web.auth import api_admin, require_admin
from web.rendering import render


class ParkedJob(Answer):
    id: int
    task_name: str
    attempts: int
    scheduled_at: str | None


class JobQueue(Answer):
    runs_in: str
    periodic: list[str]
    depth: dict[str, int]
    parked: list[ParkedJob]


async def _queue(request: Request) -> dict[str, Any]:
    return {
        "runs_in": request.app.state.settings.jobs,
        "periodic": [f"{job.name} ({job.every_seconds} s)" for job in PERIODIC],
        "depth": await queue.depth(),
        "parked": [
            {
                "id": row["id"],
                "task_name": row["task_name"],
                "attempts": row["attempts"],
                "scheduled_at": iso(row["scheduled_at"]) if row["scheduled_at"] else None,
            }
            for row in await queue.parked()
        ],
    }


async def admin_page(request: Request) -> Response:
    await require_admin(request)
    schedule = [(job.name, job.every_seconds) for job in PERIODIC]
    return await render(request, "jobs/admin.html", {**await _queue(request), "schedule": schedule})


@operation(
    "The background job queue: where jobs run, its depth, and parked jobs (admins)",
    answer=JobQueue,
    auth="admin",
    tag="jobs",
)
async def admin_api(request: Request) -> Response:
    await api_admin(request)
    return json_response(await _queue(request))


routes = [Route("/jobs/admin", admin_page, methods=["GET"])]
api_routes = [Route("/admin/jobs", admin_api, methods=["GET"])]
