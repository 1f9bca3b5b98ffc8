"""The console's numbers at 1,000,000 accounts and 10,000,000 feed events: the dashboard's
queries, the daily rollup and its one-time backfill, a drop's funnel and live state.

Loads two years of history into a database of its own (shuyuan_bench_stats, made afresh
each run with the app's migrations; bench/stats_data.py says what is in it), then measures
in this process against PostgreSQL:
- the rollups' backfill of every day since the first account (`stats.rollups.refresh`, run
  again until it has caught up: MAX_DAYS_PER_RUN days a run), its total time;
- `refresh_day` for each of the last ROLLUP_DAYS days (what the job does every minute);
- `stats.report.report(first, last)` for 30, 90 and 366 days up to today, and GET
  /api/v1/admin/stats for the same ranges through the real app (ASGI, in process, an owner's
  bearer token): RUNS runs each, p50 and p99. Target (issue 29): p99 under 200 ms;
- `stats.funnels.funnel` and `stats.live.live_state` of the drop (10,800 orders) and the
  funnel of the last enrollment window, RUNS runs each.

    python -m bench.admin_stats [--scale 1.0] [--runs 200] [--keep]

--scale shrinks or grows the history (0.01 for a quick look); --keep leaves the database
for EXPLAIN ANALYZE afterwards (BENCH_POSTGRES_URL names the server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, fresh_app_database, orm, summary
from bench.stats_data import Loaded, Scale, load

DATABASE = "shuyuan_bench_stats"
RANGES = (30, 90, 366)
ROLLUP_DAYS = 30
TARGET_P99_MS = 200.0


class Measured:
    """One row of the table: a measure's run times (seconds), or one total."""

    def __init__(self, name: str, times: list[float]) -> None:
        self.name = name
        self.times = times

    def pct(self, n: int) -> float:
        if len(self.times) == 1:
            return self.times[0] * 1000
        return statistics.quantiles(self.times, n=100, method="inclusive")[n - 1] * 1000

    def row(self) -> str:
        if len(self.times) == 1:
            return f"{self.name:<44} {1:>5} {'':>8} {'':>8} {self.times[0]:>8.1f}"
        return f"{self.name:<44} {len(self.times):>5} {self.pct(50):>8.1f} {self.pct(99):>8.1f}"


async def timed(name: str, runs: int, call: Callable[[], Awaitable[Any]]) -> Measured:
    await call()  # the first run warms the caches; it is not counted
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return Measured(name, times)


async def backfill(loaded: Loaded) -> tuple[Measured, int]:
    """The first refreshes after the rollups were installed: every day since the first
    account. Returns the total time and the days written."""
    from stats import rollups

    days = runs = 0
    started = time.perf_counter()
    while True:
        done = await rollups.refresh(now=loaded.now)
        days += done.days
        runs += 1
        if done.days < rollups.MAX_DAYS_PER_RUN:
            break
    took = time.perf_counter() - started
    return Measured(f"rollup backfill: {days} days in {runs} runs (s)", [took]), days


async def refresh_days(loaded: Loaded, today: date) -> Measured:
    from stats import rollups

    times = []
    for n in range(ROLLUP_DAYS):
        day = today - timedelta(days=n)
        started = time.perf_counter()
        await rollups.refresh_day(day, now=loaded.now)
        times.append(time.perf_counter() - started)
    return Measured("rollup: refresh_day, one day", times)


async def dashboard(dsn: str, today: date, runs: int) -> list[Measured]:
    """report() and the API for each range."""
    from accounts import services as accounts
    from app import create_app
    from settings import Settings
    from stats.report import report

    rows = []
    for length in RANGES:
        first = today - timedelta(days=length - 1)
        rows.append(await timed(f"report(), {length} days", runs, lambda f=first: report(f, today)))
    owner = await accounts.create_admin(email="owner@bench.cn", password="bench owner password")
    token = await accounts.issue_token(owner, name="bench")
    settings = Settings(
        database_url=dsn,  # opened by orm() already: the app does not manage it here
        secret_key="bench-" + "k" * 40,
        var_dir=Path("/tmp/sy-bench"),
        public_url="http://bench",
    )
    app = create_app(settings, manage_database=False, background_tasks=False)
    try:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for length in RANGES:
                params = {
                    "from": (today - timedelta(days=length - 1)).isoformat(),
                    "to": str(today),
                }

                async def get(params: dict[str, str] = params) -> None:
                    response = await http.get("/api/v1/admin/stats", params=params, headers=headers)
                    if response.status_code != 200:
                        raise SystemExit(f"stats API: {response.status_code} {response.text[:300]}")

                rows.append(await timed(f"GET /api/v1/admin/stats, {length} days", runs, get))
    finally:
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()
        app.state.pictures.close()
    return rows


async def sales(loaded: Loaded, runs: int) -> list[Measured]:
    from stats import funnels, live

    during = loaded.drop_opens_at + timedelta(minutes=10)
    return [
        await timed("funnel, the drop", runs, lambda: funnels.funnel("drop", loaded.drop_id)),
        await timed(
            "live_state, the drop 10 minutes in",
            runs,
            lambda: live.live_state("drop", loaded.drop_id, during),
        ),
        await timed(
            "funnel, the last window", runs, lambda: funnels.funnel("window", loaded.last_window_id)
        ),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    from tallies import shanghai_day

    scale = Scale.of(args.scale)
    async with fresh_app_database(DATABASE, exact=True, keep=args.keep) as dsn:
        print(f"loading {DATABASE}: {scale}", flush=True)
        started = time.perf_counter()
        loaded = await load(dsn, scale)
        load_seconds = time.perf_counter() - started
        today = shanghai_day(loaded.now)
        async with orm(dsn):
            backfilled, _ = await backfill(loaded)
            rows = [backfilled, await refresh_days(loaded, today)]
            rows += await dashboard(dsn, today, args.runs)
            rows += await sales(loaded, args.runs)
    counts = loaded.counts
    print()
    print(
        f"admin stats on PostgreSQL: {counts['accounts']:,} accounts ({counts['members']:,} "
        f"members, {counts['grants']:,} grants), {counts['feed events']:,} feed events "
        f"({counts['activity rows']:,} activity rows, {counts['feed item-days']:,} item-days), "
        f"{counts['posts']:,} posts, {counts['replies']:,} replies, {counts['orders']:,} orders "
        f"({counts['drop orders']:,} of the drop), {counts['payments']:,} payments, "
        f"{counts['refunds']:,} refunds"
    )
    steps = ", ".join(f"{name} {s:.0f} s" for name, s in loaded.seconds.items())
    print(f"loaded in {load_seconds:.0f} s ({steps})")
    print(f"{'measure':<44} {'runs':>5} {'p50 ms':>8} {'p99 ms':>8} {'total s':>8}")
    for row in rows:
        print(row.row())
    dashboard_rows = [row for row in rows if "days" in row.name and len(row.times) > 1]
    worst = max(row.pct(99) for row in dashboard_rows if "refresh_day" not in row.name)
    print(f"target: the dashboard's p99 under {TARGET_P99_MS:.0f} ms (worst {worst:.1f} ms)")
    named = {row.name: row for row in rows}
    summary(
        "admin stats",
        {
            "report() 366 days p99 ms": f"{named['report(), 366 days'].pct(99):.1f}",
            "API 366 days p99 ms": f"{named['GET /api/v1/admin/stats, 366 days'].pct(99):.1f}",
            "refresh_day p99 ms": f"{named['rollup: refresh_day, one day'].pct(99):.1f}",
            "backfill s": f"{backfilled.times[0]:.1f}",
            "drop funnel p99 ms": f"{named['funnel, the drop'].pct(99):.1f}",
            "drop live state p99 ms": f"{named['live_state, the drop 10 minutes in'].pct(99):.1f}",
        },
    )


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
