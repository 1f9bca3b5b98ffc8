"""Benchmark: the enrollment rush at window opening, against a bare hot-row baseline.

Starts the real app under uvicorn (2 workers) on a fresh PostgreSQL database, creates a window
with SEATS seats and ATTEMPTS signed-in people, and fires their enrollments over HTTP from
127.0.0.1 with CONCURRENCY requests in flight. Then it serves a bare Starlette endpoint that
runs the naive single statement (UPDATE window SET taken = taken + 1 ... RETURNING, plus the
INSERT of the hold) through asyncpg, under the same uvicorn settings and the same load, and
prints both and the ratio app/raw.

    python -m bench.enrollment_rush [--attempts 2000] [--seats 500] [--concurrency 64]

Needs PostgreSQL (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.common import (
    CLIENT_PROCESSES,
    HEADER,
    WORKERS,
    Run,
    bench_raw,
    fire_from_processes,
    fresh_app_database,
    orm,
    serving_app,
    signed_in_people,
)


async def prepare_app_data(dsn: str, attempts: int, seats: int) -> tuple[int, list[str]]:
    """`attempts` signed-in people and a window that is open now."""
    from membership import windows

    async with orm(dsn):
        tokens = await signed_in_people(attempts, prefix="rush")
        now = datetime.now(UTC)
        window = await windows.create_window(
            name="压测",
            price_fen=19_900,
            seats=seats,
            opens_at=now,
            closes_at=now + timedelta(hours=1),
            now=now,
        )
        return window.id, tokens


async def oversell(dsn: str, window_id: int, seats: int) -> tuple[int, int]:
    connection = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
    try:
        held = await connection.fetchval(
            "SELECT count(*) FROM membership_enrollment WHERE window_id = $1 "
            "AND status = 'pending_payment'",
            window_id,
        )
        seated = await connection.fetchval(
            "SELECT count(*) FROM membership_seat WHERE window_id = $1 "
            "AND enrollment_id IS NOT NULL",
            window_id,
        )
        return held, max(0, held - seats) + max(0, seated - seats) + abs(held - seated)
    finally:
        await connection.close()


async def bench_app(attempts: int, seats: int, concurrency: int) -> tuple[Run, int]:
    async with fresh_app_database("shuyuan_bench") as dsn:
        window_id, tokens = await prepare_app_data(dsn, attempts, seats)
        auth = [{"Authorization": f"Bearer {token}"} for token in tokens]
        with serving_app(dsn) as base:
            run = await fire_from_processes(
                "app",
                base,
                [(f"/api/v1/enrollment-windows/{window_id}/enrollments", h) for h in auth],
                concurrency,
                CLIENT_PROCESSES,
            )
        _, over = await oversell(dsn, window_id, seats)
        return run, over


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--seats", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    app_run, app_over = await bench_app(args.attempts, args.seats, args.concurrency)
    raw_run, raw_over = await bench_raw(args.attempts, args.seats, args.concurrency)
    print(
        f"enrollment rush: {args.attempts} attempts for {args.seats} seats, "
        f"{args.concurrency} in flight from {CLIENT_PROCESSES} client processes, "
        f"uvicorn x{WORKERS}, PostgreSQL, 127.0.0.1, {os.cpu_count()} CPUs"
    )
    print(HEADER)
    print(app_run.row())
    print(raw_run.row())
    ratio = (app_run.accepted / app_run.elapsed) / (raw_run.accepted / raw_run.elapsed)
    print(f"oversell: app {app_over}, raw {raw_over} (must be 0)")
    print(f"ratio app/raw accepted/s: {ratio:.2f} (target >= 1.0)")
    print(f"statuses: app {app_run.statuses}, raw {raw_run.statuses}")


if __name__ == "__main__":
    asyncio.run(main())
