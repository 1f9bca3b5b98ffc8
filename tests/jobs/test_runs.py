"""Each periodic job's last run is kept, and one more than three periods late is flagged on the
jobs page, its API twin and /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from jobs import runs
from jobs.embedded import run_once
from jobs.engine import cron
from jobs.schedule import PERIODIC, Job, JobContext
from tests.factories import bearer, make_user, sign_in, token_for


async def test_a_job_more_than_three_periods_late_is_overdue(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    ago = [("store.release_expired_orders", 45), ("membership.maintain", 5)]
    for name, seconds in ago:
        await runs.record_run(name, started_at=now - timedelta(seconds=seconds), succeeded=True)
    await runs.record_run("store.draw_due_raffles", started_at=now, succeeded=False)
    admin = await make_user(admin=True)
    answer = await client.get("/api/v1/admin/jobs", headers=bearer(await token_for(admin)))
    jobs = {job["name"]: job for job in answer.json()["jobs"]}
    assert jobs["store.release_expired_orders"]["overdue"] is True  # 45 s > 3 x 10 s
    assert jobs["membership.maintain"]["overdue"] is False
    assert jobs["store.draw_due_raffles"]["overdue"] is True  # it only ever failed
    assert jobs["store.draw_due_raffles"]["last_failed_at"] is not None
    assert jobs["payments.reconcile"]["last_succeeded_at"] is None  # never ran
    scrape = (await client.get("/metrics")).text
    assert 'shuyuan_job_overdue{job="store.release_expired_orders"} 1.0' in scrape
    assert 'shuyuan_job_overdue{job="membership.maintain"} 0.0' in scrape
    await sign_in(client, admin.email)
    page = await client.get("/admin/jobs", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert page.text.count('class="overdue"') == len([j for j in jobs.values() if j["overdue"]])


async def test_every_run_of_a_job_is_recorded_whichever_way_it_ends() -> None:
    async def works(context: JobContext, now: datetime) -> int:
        return 1

    async def breaks(context: JobContext, now: datetime) -> int:
        raise RuntimeError("down")

    context = JobContext(provider=None)  # type: ignore[arg-type]  # neither job uses it
    await run_once(Job("tests.works", 5, works), context)
    await run_once(Job("tests.breaks", 5, breaks), context)
    [works_health, breaks_health] = await runs.periodic_health(
        [("tests.works", 5), ("tests.breaks", 5)], now=datetime.now(UTC)
    )
    assert works_health.last_succeeded_at is not None and not works_health.overdue
    assert breaks_health.last_failed_at is not None and breaks_health.last_succeeded_at is None


def test_every_periodic_job_has_a_period_the_job_engine_can_schedule() -> None:
    """procrastinate schedules each job by a cron line (jobs.engine.cron): a period with
    none would stop every worker at start-up, which only PostgreSQL's worker tests show."""
    assert all(cron(job.every_seconds) for job in PERIODIC)
