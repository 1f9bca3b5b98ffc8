"""A broadcast to 100,000 people: how long its sending takes, and what readers meanwhile wait.

In a database of its own (made afresh with the app's migrations, dropped afterwards):
100,000 members (MAIL_SHARE of them chose broadcasts by mail), one admin. Then, against the
real `shuyuan serve` (2 workers) and one `shuyuan worker` (the job engine), on this machine:
1. readers alone: wrk GETs the front page for WINDOW seconds (CONNECTIONS connections);
2. the admin POSTs /api/v1/admin/broadcasts to all members, and wrk runs the same load again
   while the worker sends it; the broadcast's GET is polled until it is `sent`.
Printed: the POST's time (it writes the 100,000 recipients), the send's time from the POST to
`sent`, people reached per second, and the readers' p50/p99 alone and during the send.

    python -m bench.broadcast [--people 100000] [--window 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import ROOT, app_environment, fresh_app_database, orm, serving_app, summary

CONNECTIONS = 8
MAIL_SHARE = 0.1
WRK_LINE = "Latency Distribution"


def wrk(base: str, seconds: int) -> subprocess.Popen[str]:
    """wrk on the front page for `seconds`, its latency distribution printed at the end."""
    return subprocess.Popen(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", f"{base}/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def percentiles(output: str) -> dict[str, float]:
    """p50 and p99 in ms from wrk's --latency table, and requests per second."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            value = parts[1]
            scale = 1.0 if value.endswith("ms") else 1000.0 if value.endswith("s") else 0.001
            found[parts[0]] = float(value.rstrip("ums")) * scale
        if line.startswith("Requests/sec:"):
            found["rps"] = float(line.split()[1])
    return found


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
    admin = await accounts.register(
        email="admin@bench.cn", password="bench password 2026", display_name="管理员"
    )
    await User.filter(id=admin.id).update(staff_role="admin", admin_flag=True)
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
                alone = wrk(base, window)
                quiet = percentiles(alone.communicate()[0])
                headers = {"Authorization": f"Bearer {token}"}
                async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as api:
                    loaded = wrk(base, window)
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
                    during = percentiles(loaded.communicate()[0])
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
        "front page alone p50 / p99": f"{quiet['50%']:.1f} / {quiet['99%']:.1f} ms "
        f"({quiet['rps']:.0f} req/s)",
        "front page during the send p50 / p99": f"{during['50%']:.1f} / {during['99%']:.1f} ms "
        f"({during['rps']:.0f} req/s)",
    }
    width = max(len(k) for k in rows)
    print(f"\nbroadcast to {people:,} people (wrk {CONNECTIONS} connections, {window} s windows)")
    for name, value in rows.items():
        print(f"{name:<{width}}  {value}")
    summary("broadcast", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.people, args.window))
