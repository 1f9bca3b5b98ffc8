"""A broadcast to 100,000 people: how long its sending takes, and what readers meanwhile wait.

In a database of its own (made afresh with the app's migrations, dropped afterwards):
100,000 members (MAIL_SHARE of them chose broadcasts by mail), one admin. Then, against the
real `shuyuan serve` (2 workers) and one `shuyuan worker` (the job engine), on this machine:
1. readers alone: the front page GET at RATE requests a second (an open loop) for --window s;
2. the admin POSTs /api/v1/admin/broadcasts to all members while the same readers go on, and
   the broadcast's GET is polled until the worker has sent it (`sent`).
Printed: the POST's time (it writes the 100,000 recipients), the send's time from the POST to
`sent`, people reached per second, and the readers' p50/p99 alone and during the send.

    python -m bench.broadcast [--people 100000] [--window 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import ROOT, app_environment, fresh_app_database, orm, serving_app, summary

RATE = 50  # readers' requests a second, sent at a steady pace whatever the answers take
MAIL_SHARE = 0.1


class Readers:
    """Readers loading the front page at RATE a second (an open loop: a slow answer does not
    slow the next request, as wrk's closed loop would), each answer's time recorded."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.times: list[float] = []
        self.errors = 0
        self.running = True

    async def one(self, client: httpx.AsyncClient) -> None:
        started = time.perf_counter()
        try:
            answer = await client.get("/")
            if answer.status_code != 200:
                self.errors += 1
        except httpx.HTTPError:
            self.errors += 1
        self.times.append(time.perf_counter() - started)

    async def run(self, seconds: float | None = None) -> None:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=self.base, timeout=30, limits=limits) as client:
            tasks = []
            began = time.perf_counter()
            n = 0
            while self.running and (seconds is None or time.perf_counter() - began < seconds):
                tasks.append(asyncio.create_task(self.one(client)))
                n += 1
                await asyncio.sleep(max(0.0, began + n / RATE - time.perf_counter()))
            await asyncio.gather(*tasks)

    def pct(self, n: int) -> float:
        return statistics.quantiles(self.times, n=100, method="inclusive")[n - 1] * 1000


async def seed(people: int) -> str:
    """The members (in one statement) and an admin with a bearer token; returns the token."""
    from tortoise import connections

    from accounts import services as accounts
    from accounts.models import User

    await connections.get("default").execute_query(
        """
        INSERT INTO accounts_user (email, display_name, password_hash, is_admin, created_at,
                                   avatar_version, bio, email_verified_at, member_until)
        SELECT 'm' || n || '@bench.cn', '会员' || n, 'none', false, now(), 0, '', now(),
               now() + interval '200 days'
          FROM generate_series(1, $1::int) AS n
        """,
        [people],
    )
    await connections.get("default").execute_query(
        """
        INSERT INTO accounts_notice_choice (user_id, kind, channel)
        SELECT id, 'broadcast', 'inbox_mail' FROM accounts_user WHERE random() < $1
        """,
        [MAIL_SHARE],
    )
    admin = await User.create(
        email="admin@bench.cn",
        display_name="运营小王",
        password_hash=await accounts.hash_password("bench password 2026"),
        staff_role="admin",
        admin_flag=True,
    )
    return await accounts.issue_token(admin, name="bench")


def worker(dsn: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "worker"],
        cwd=ROOT,
        env=app_environment(dsn),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def main(people: int, window: int) -> None:
    async with fresh_app_database("shuyuan_bench_broadcast") as dsn:
        async with orm(dsn):
            token = await seed(people)
        log = ROOT / "var" / "bench-broadcast-worker.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        jobs = worker(dsn, log)
        try:
            with serving_app(dsn) as base:
                await asyncio.sleep(3)  # the worker is up and idle
                await Readers(base).run(5)  # warms each server worker's caches: not counted
                quiet = Readers(base)
                await quiet.run(window)
                headers = {"Authorization": f"Bearer {token}"}
                busy = Readers(base)
                load = asyncio.create_task(busy.run())
                async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as api:
                    started = time.perf_counter()
                    made = await api.post(
                        "/api/v1/admin/broadcasts",
                        json={
                            "title": "今晚八点，新书共读",
                            "body": "今晚八点开讲，[入口在这里](https://example.cn/live)。",
                            "audience": {"kind": "all_members"},
                        },
                    )
                    posted = time.perf_counter() - started
                    made.raise_for_status()
                    broadcast = made.json()
                    while True:
                        state = (
                            await api.get(f"/api/v1/admin/broadcasts/{broadcast['id']}")
                        ).json()
                        if state["status"] == "sent":
                            break
                        await asyncio.sleep(0.25)
                    took = time.perf_counter() - started
                busy.running = False
                await load
        finally:
            os.killpg(jobs.pid, signal.SIGTERM)
            jobs.wait(timeout=30)
    rows = {
        "recipients": f"{broadcast['recipients']:,}",
        "delivered / skipped / failed": (
            f"{state['delivered']:,} / {state['skipped']:,} / {state['failed']:,}"
        ),
        "POST (writes the recipients)": f"{posted:.2f} s",
        "send, POST to sent": f"{took:.1f} s ({state['delivered'] / took:,.0f} people/s)",
        f"front page alone, {RATE}/s: p50 / p99": f"{quiet.pct(50):.1f} / {quiet.pct(99):.1f} ms "
        f"({len(quiet.times)} requests, {quiet.errors} errors)",
        f"front page during the send, {RATE}/s: p50 / p99": (
            f"{busy.pct(50):.1f} / {busy.pct(99):.1f} ms "
            f"({len(busy.times)} requests, {busy.errors} errors)"
        ),
    }
    width = max(len(k) for k in rows)
    print(f"\nbroadcast to {people:,} people (readers at {RATE} requests/s)")
    for name, value in rows.items():
        print(f"{name:<{width}}  {value}")
    summary("broadcast", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.people, args.window))
