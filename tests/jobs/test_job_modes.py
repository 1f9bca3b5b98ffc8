"""Both job modes on PostgreSQL, each in a database of its own: embedded jobs need no queue and
no page answers 500 for it; worker mode without the queue's tables refuses to start, saying
what to run."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import httpx
import pytest

from settings import Settings
from tests.conftest import postgres_admin_url
from tests.live import ROOT, free_port, running_server, server_environment

pytestmark = pytest.mark.postgres_only
ADMIN_PASSWORD = "an admin's long passphrase"


@pytest.fixture
async def fresh_database(settings: Settings) -> AsyncIterator[Settings]:
    """Settings for a new, empty database of this test's own (dropped afterwards)."""
    name = f"shuyuan_modes_{secrets.token_hex(4)}"
    admin_url = postgres_admin_url().replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = settings.database_url.rpartition("/")
    try:
        yield replace(settings, database_url=f"{base}/{name}")
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def shuyuan(settings: Settings, *args: str, jobs: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**server_environment(settings), "SHUYUAN_JOBS": jobs},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_worker_mode_without_the_queue_refuses_to_start_and_says_why(
    fresh_database: Settings,
) -> None:
    started = await asyncio.to_thread(
        shuyuan, fresh_database, "serve", "--port", str(free_port()), jobs="worker"
    )
    assert started.returncode != 0
    assert "run `shuyuan migrate` first" in started.stdout + started.stderr


async def test_embedded_jobs_on_postgresql_answer_every_jobs_page(
    fresh_database: Settings,
) -> None:
    migrated = await asyncio.to_thread(shuyuan, fresh_database, "migrate", jobs="embedded")
    assert migrated.returncode == 0, migrated.stderr
    made = await asyncio.to_thread(
        shuyuan,
        fresh_database,
        "create-admin",
        "--email",
        "ops@example.cn",
        "--password",
        ADMIN_PASSWORD,
        jobs="embedded",
    )
    assert made.returncode == 0, made.stderr
    with running_server(fresh_database, env={"SHUYUAN_JOBS": "embedded"}) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
            assert (await http.get("/metrics")).status_code == 200
            token = (
                await http.post(
                    "/api/v1/tokens", json={"email": "ops@example.cn", "password": ADMIN_PASSWORD}
                )
            ).json()["token"]
            jobs = await http.get(
                "/api/v1/admin/jobs", headers={"Authorization": f"Bearer {token}"}
            )
            assert jobs.status_code == 200, jobs.text
            assert jobs.json()["runs_in"] == "embedded"
            page = await http.get("/account/login")
            csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            await http.post(
                "/account/login",
                data={"email": "ops@example.cn", "password": ADMIN_PASSWORD, "csrf_token": csrf},
            )
            assert (await http.get("/admin/jobs")).status_code == 200
