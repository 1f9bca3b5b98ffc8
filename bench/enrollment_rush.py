"""Benchmark: the enrollment rush at window opening, against a bare endpoint doing the same
seat claim.

Starts the real app under uvicorn (2 workers) on a fresh PostgreSQL database, opens a window of
SEATS seats for ATTEMPTS signed-in people, and sends their enrollments with wrk (CONCURRENCY
connections, each person once) until the window answers "full". The bare side is a Starlette
endpoint on its own copy of the same data that calls the app's own seat statement
(membership_hold_seat, membership/sql/hold_seat.sql) through asyncpg, once per request: a user
id instead of a token, no session, no rules but the SQL's, no batches.
Accepted/s is counted by the database (enrollments / time from the first to the last). Each
side runs ROUNDS rounds on a fresh window; the median counts.

    python -m bench.enrollment_rush [--attempts 3000] [--seats 2000] [--concurrency 64]
                                    [--rounds 5]

2,000 seats: a window of 500 filled in about a third of a second, so the median of a few such
rounds was mostly start-up noise (one afternoon's five rounds read 0.89x, the next run 1.13x).

Needs PostgreSQL (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres) and
Debian's wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.common import (
    WORKERS,
    fresh_app_database,
    orm,
    serving_app,
    signed_in_people,
    summary,
    wait_for,
)
from bench.wrk_load import THREADS, WrkResult, run_wrk
from tests.live import free_port

BARE_APP = """
import os
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

# The seat statement the app runs (membership/sql/hold_seat.sql, installed by the app's
# migrations), one call per request, for a user id known in advance.
SQL = "SELECT * FROM membership_hold_seat($1, NULL, $2, $3, $4, $5, $6, $7)"
pool = None

@asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(os.environ["BARE_DSN"], min_size=5, max_size=10)
    yield
    await pool.close()

async def seat(request):
    window_id = int(request.path_params["window_id"])
    user_id = int(request.path_params["user_id"])
    now = datetime.now(UTC)
    row = await pool.fetchrow(
        SQL, user_id, now - timedelta(minutes=5), window_id, now, 19900,
        now + timedelta(minutes=15), now + timedelta(days=30),
    )
    if row["outcome"] == "held":
        return JSONResponse({"id": row["held_enrollment_id"]}, status_code=201)
    return JSONResponse({"error": {"code": row["outcome"]}}, status_code=409)


app = Starlette(
    routes=[Route("/seat/{window_id:int}/{user_id:int}", seat, methods=["POST"])],
    lifespan=lifespan,
)
"""


async def open_window(dsn: str, seats: int) -> int:
    """A window open now (any earlier one closed first: one window sells at a time)."""
    from membership import windows
    from membership.models import EnrollmentWindow

    async with orm(dsn):
        now = datetime.now(UTC)
        await EnrollmentWindow.filter(closes_at__gt=now).update(closes_at=now)
        window = await windows.create_window(
            name=f"压测 {now:%H%M%S%f}",
            price_fen=19_900,
            seats=seats,
            opens_at=now,
            closes_at=now + timedelta(hours=1),
            now=now + timedelta(microseconds=1),
        )
        return window.id


async def people(dsn: str, attempts: int) -> tuple[list[str], list[int]]:
    from accounts.models import User

    async with orm(dsn):
        tokens = await signed_in_people(attempts, prefix="rush")
        ids = (
            await User.filter(email__startswith="rush").order_by("id").values_list("id", flat=True)
        )
        return tokens, list(ids)


async def counted(dsn: str, window_id: int, seats: int) -> tuple[int, float, int]:
    """Enrollments held in the window, seconds from the first to the last, and oversell."""
    connection = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS n, extract(epoch FROM max(created_at) - min(created_at)) AS s, "
            "(SELECT count(*) FROM membership_seat WHERE window_id = $1 "
            " AND enrollment_id IS NOT NULL) AS seated "
            "FROM membership_enrollment WHERE window_id = $1",
            window_id,
        )
        held, seated = int(row["n"]), int(row["seated"])
        over = max(0, held - seats) + max(0, seated - seats) + abs(held - seated)
        return held, float(row["s"] or 0.0), over
    finally:
        await connection.close()


@contextmanager
def serving_bare(dsn: str) -> Iterator[str]:
    folder = Path("/tmp") / f"bare_seat_{os.getpid()}"
    folder.mkdir(exist_ok=True)
    (folder / "bare_seat.py").write_text(BARE_APP)
    port = free_port()
    env = {
        **os.environ,
        "BARE_DSN": dsn.replace("postgres://", "postgresql://", 1),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_seat:app", "--port", str(port),
         "--workers", str(WORKERS), "--log-level", "warning", "--no-access-log"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/", server)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


async def rounds(side: str, args: argparse.Namespace) -> list[tuple[float, WrkResult, int]]:
    results = []
    async with fresh_app_database(f"shuyuan_enroll_{side}") as dsn:
        tokens, ids = await people(dsn, args.attempts)
        server = serving_app(dsn) if side == "app" else serving_bare(dsn)
        with server as base:
            for _ in range(args.rounds):
                window_id = await open_window(dsn, args.seats)
                requests = (
                    [(f"/api/v1/enrollment-windows/{window_id}/enrollments", f"Bearer {t}")
                     for t in tokens]
                    if side == "app"
                    else [(f"/seat/{window_id}/{user_id}", "") for user_id in ids]
                )  # fmt: skip
                wrk = await asyncio.to_thread(
                    run_wrk,
                    base,
                    requests,
                    body="",
                    connections=args.concurrency,
                    seconds=120,
                    stop_status=409,
                )
                await asyncio.sleep(1.0)  # requests still in flight when wrk stopped
                held, seconds, over = await counted(dsn, window_id, args.seats)
                results.append((held / seconds if seconds else 0.0, wrk, over))
    return results


def median(results: list[tuple[float, WrkResult, int]]) -> tuple[float, WrkResult, int]:
    ordered = sorted(results, key=lambda result: result[0])
    rate, wrk, _ = ordered[len(ordered) // 2]
    return rate, wrk, max(result[2] for result in results)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=3000)
    parser.add_argument("--seats", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    app_rounds = await rounds("app", args)
    bare_rounds = await rounds("bare", args)
    (app, app_wrk, app_over), (bare, bare_wrk, bare_over) = median(app_rounds), median(bare_rounds)
    print(
        f"enrollment rush: {args.seats} seats, {args.attempts} people, {args.concurrency} "
        f"connections from wrk (-t{THREADS}), uvicorn x{WORKERS}, PostgreSQL, 127.0.0.1, "
        f"{os.cpu_count()} CPUs; median of {args.rounds} rounds (accepted/s of each: app "
        f"{', '.join(f'{r[0]:.0f}' for r in app_rounds)}; bare "
        f"{', '.join(f'{r[0]:.0f}' for r in bare_rounds)})"
    )
    print(f"{'':<6} {'accepted/s':>11} {'wrk p50 ms':>11} {'wrk p99 ms':>11}")
    print(f"{'app':<6} {app:>11.0f} {app_wrk.p50_ms:>11.1f} {app_wrk.p99_ms:>11.1f}")
    print(f"{'bare':<6} {bare:>11.0f} {bare_wrk.p50_ms:>11.1f} {bare_wrk.p99_ms:>11.1f}")
    print(f"oversell: app {app_over}, bare {bare_over} (must be 0)")
    print(f"ratio app/bare accepted/s: {app / bare:.2f} (target >= 1.0)")
    summary(
        "enrollment rush (accepted/s)",
        {"app": f"{app:.0f}", "bare seat claim": f"{bare:.0f}", "app/bare": f"{app / bare:.2f}"},
    )


if __name__ == "__main__":
    asyncio.run(main())
