"""With SQLite (embedded jobs) the web process runs the same periodic jobs the worker runs."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette

from jobs.embedded import embedded_jobs, run_once
from jobs.schedule import PERIODIC, Job, JobContext
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus
from tests.factories import address, bearer, make_user, token_for


async def expired_order() -> Order:
    product = await store.create_product(
        title="帆布袋", description="", category="逼格工场", price_fen=5_900, stock=1
    )
    return await store.place_order(
        buyer=await make_user(),
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC) - timedelta(minutes=11),  # its hold ran out a minute ago
        counter=MemoryCounter(),
        shipping=address(),
    )


def job_named(name: str) -> Job:
    [job] = [job for job in PERIODIC if job.name == name]
    return job


async def test_every_periodic_job_runs_once_in_process(app: Starlette) -> None:
    context = JobContext(provider=app.state.payments_provider, memory=app.state.memory)
    order = await expired_order()
    for job in PERIODIC:
        await run_once(job, context)
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED


async def test_the_embedded_scheduler_runs_the_schedules_own_functions_on_their_period(
    app: Starlette,
) -> None:
    context = JobContext(provider=app.state.payments_provider, memory=app.state.memory)
    order = await expired_order()
    release = job_named("store.release_expired_orders")
    every_second = replace(release, every_seconds=1)  # the same function, a shorter period
    async with embedded_jobs(context, [every_second]):
        for _ in range(50):
            await asyncio.sleep(0.1)
            if (await Order.get(id=order.id)).status == OrderStatus.CANCELLED:
                break
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED


def test_jobs_run_embedded_on_sqlite_and_in_a_worker_on_postgresql(settings: Settings) -> None:
    sqlite = replace(settings, database_url="sqlite://var/x.sqlite3", jobs_where=None)
    postgres = replace(settings, database_url="postgres://u@127.0.0.1:5432/x", jobs_where=None)
    assert sqlite.jobs == "embedded"
    assert postgres.jobs == "worker"
    assert replace(postgres, jobs_where="embedded").jobs == "embedded"


async def test_admins_see_where_jobs_run(client: httpx.AsyncClient, settings: Settings) -> None:
    headers = bearer(await token_for(await make_user(admin=True)))
    answer = await client.get("/api/v1/admin/jobs", headers=headers)
    assert answer.status_code == 200
    body = answer.json()
    assert body["runs_in"] == settings.jobs
    assert len(body["periodic"]) == len(PERIODIC)
    nobody = await client.get(
        "/api/v1/admin/jobs", headers=bearer(await token_for(await make_user()))
    )
    assert nobody.status_code == 403
