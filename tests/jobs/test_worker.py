"""`shuyuan worker` on PostgreSQL: two real worker processes on the job engine."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from jobs.engine import RETRY, make_engine
from settings import Settings
from tests.cable import Cable, through
from tests.conftest import postgres_admin_url
from tests.factories import bearer, make_user, token_for
from tests.jobs.for_tests import JOBS as TEST_JOBS
from tests.live import ROOT, server_environment, stop_group

pytestmark = pytest.mark.postgres_only


@contextmanager
def worker(settings: Settings, name: str, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    log = (settings.var_dir / f"worker-{name}.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--also", "tests.jobs.for_tests", *extra],
        cwd=ROOT,
        env=server_environment(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            stop_group(process, timeout=20)
        log.close()


async def connect(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(settings.database_url.replace("postgres://", "postgresql://", 1))


async def wait_for(check, seconds: float, *, logs: tuple[Path, ...] = ()) -> None:  # type: ignore[no-untyped-def]
    """Until check() is true; failing after `seconds`, with the end of each worker's log."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"--- {log.name}:\n" + "\n".join(log.read_text().splitlines()[-40:])
                for log in logs
                if log.exists()
            )
            raise AssertionError(f"not within {seconds} s\n{tails}")
        await asyncio.sleep(0.25)


async def defer(settings: Settings, task_name: str) -> int:
    engine = make_engine(settings.database_url, None, TEST_JOBS)
    async with engine.open_async():
        return await engine.configure_task(task_name).defer_async(timestamp=0)


async def test_two_workers_run_each_period_once_and_park_a_job_that_keeps_failing(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    db = await connect(settings)
    try:
        started = time.time()
        with worker(settings, "a"), worker(settings, "b"):
            await asyncio.sleep(4)  # both started and listening
            failing = await defer(settings, "tests.fails")

            async def parked() -> bool:
                status = await db.fetchval(
                    "SELECT status::text FROM procrastinate_jobs WHERE id = $1", failing
                )
                return status == "failed"

            await wait_for(parked, 40)
            await asyncio.sleep(max(0.0, 16 - (time.time() - started)))
            stopping = time.time()
        runs = await db.fetch(
            "SELECT task_name, args->>'timestamp' AS period, count(*) AS runs, "
            "count(*) FILTER (WHERE status = 'succeeded') AS done, "
            "string_agg(status::text, ',') AS statuses "
            "FROM procrastinate_jobs WHERE args ? 'timestamp' AND args->>'timestamp' <> '0' "
            "GROUP BY 1, 2"
        )
        attempts = await db.fetchval(
            "SELECT attempts FROM procrastinate_jobs WHERE id = $1", failing
        )
    finally:
        await db.close()
    assert all(row["runs"] == 1 for row in runs), [dict(r) for r in runs if r["runs"] != 1]
    ticks = [row for row in runs if row["task_name"] == "tests.tick"]
    assert len(ticks) >= 4
    # Each period deferred is run; one deferred in the last seconds may still wait in the queue
    # when the workers stop (it is the next worker's), never fail.
    unfinished = [
        dict(row)
        for row in ticks
        if row["done"] != 1 and (int(row["period"]) < stopping - 5 or "failed" in row["statuses"])
    ]
    assert not unfinished, unfinished
    for name in ("store.release_expired_orders", "membership.maintain", "store.draw_due_raffles"):
        assert any(row["task_name"] == name and row["done"] == 1 for row in runs), name
    for name in ("a", "b"):  # both workers took periods (their JSON logs say which)
        log = (settings.var_dir / f"worker-{name}.log").read_text()
        assert '"message": "job done"' in log and '"job": "tests.tick"' in log, name
    assert attempts >= RETRY.max_attempts  # tried, retried with backoff, then parked
    headers = bearer(await token_for(await make_user(admin=True)))
    seen = (await client.get("/api/v1/admin/jobs", headers=headers)).json()
    assert any(job["id"] == failing and job["attempts"] == attempts for job in seen["parked"])
    assert seen["depth"].get("failed", 0) >= 1


async def test_a_job_whose_worker_is_killed_is_finished_by_the_other(settings: Settings) -> None:
    db = await connect(settings)
    try:
        with worker(settings, "first") as first:
            await asyncio.sleep(3)
            slow = await defer(settings, "tests.slow")

            async def doing() -> bool:
                status = await db.fetchval(
                    "SELECT status::text FROM procrastinate_jobs WHERE id = $1", slow
                )
                return status == "doing"

            await wait_for(doing, 15)
            os.killpg(first.pid, signal.SIGKILL)  # mid-job: no goodbye, no heartbeat any more
            first.wait()
        with worker(settings, "second"):

            async def finished() -> bool:
                status = await db.fetchval(
                    "SELECT status::text FROM procrastinate_jobs WHERE id = $1", slow
                )
                return status == "succeeded"

            # The killed worker's heartbeat goes stale (STALLED_AFTER_SECONDS), the next
            # jobs.retry_stalled period gives the job back, and it runs again (SLOW_SECONDS):
            # about 20 s here, given more on a loaded CI machine.
            logs = tuple(settings.var_dir / f"worker-{name}.log" for name in ("first", "second"))
            await wait_for(finished, 90, logs=logs)
    finally:
        await db.close()


async def tick_runs(db: asyncpg.Connection) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE task_name = 'tests.tick' AND status = 'succeeded'"
        )
    )


async def test_the_worker_goes_on_after_its_database_connections_are_cut(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    """A PostgreSQL restart, played by a proxy that cuts every connection and refuses new
    ones for a few seconds: the worker's next job runs after it, and the jobs page says when
    each periodic job last ran."""
    cable = Cable(urlsplit(postgres_admin_url()).port or 5432)
    cable.plug()
    proxied = replace(settings, database_url=through(cable, settings.database_url))
    db = await connect(settings)
    log = settings.var_dir / "worker-restart.log"
    try:
        first = await tick_runs(db)  # the queue's tables outlive each test's clean-up
        with worker(proxied, "restart") as process:
            await wait_for(lambda: _more_than(db, first), 30, logs=(log,))
            cable.unplug()
            await asyncio.sleep(4)  # the database is away: connections cut, new ones refused
            before = await tick_runs(db)
            cable.plug()
            await wait_for(lambda: _more_than(db, before), 60, logs=(log,))
            assert process.poll() is None  # still running
            assert "the worker starts again" in log.read_text()  # ours, not procrastinate's
            headers = bearer(await token_for(await make_user(admin=True)))
            seen = (await client.get("/api/v1/admin/jobs", headers=headers)).json()
            [tick] = [job for job in seen["jobs"] if job["name"] == "store.release_expired_orders"]
            assert tick["last_succeeded_at"] is not None
            os.killpg(process.pid, signal.SIGTERM)
            assert process.wait(timeout=30) == 0  # asked to stop: a clean exit
    finally:
        await db.close()
        cable.close()


async def _more_than(db: asyncpg.Connection, count: int) -> bool:
    return await tick_runs(db) > count


async def test_a_worker_whose_database_stays_away_exits_non_zero(settings: Settings) -> None:
    cable = Cable(urlsplit(postgres_admin_url()).port or 5432)
    cable.plug()
    proxied = replace(settings, database_url=through(cable, settings.database_url))
    db = await connect(settings)
    log = settings.var_dir / "worker-gone.log"
    try:
        first = await tick_runs(db)
        with worker(proxied, "gone", "--reconnect-for", "3") as process:
            await wait_for(lambda: _more_than(db, first), 30, logs=(log,))
            cable.unplug()
            started = time.monotonic()
            while process.poll() is None:
                # The stopped worker's jobs wait out their pool's 30 s first.
                assert time.monotonic() - started < 120, log.read_text()[-3000:]
                await asyncio.sleep(0.25)
            assert process.returncode == 1  # a supervisor restarting on failure restarts it
            assert "did not answer" in log.read_text()
    finally:
        await db.close()
        cable.close()
