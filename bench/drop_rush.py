"""Benchmark: a limited drop sold out by a crowd, against a bare hot-row baseline.

Starts the real app under uvicorn (2 workers) on a fresh PostgreSQL database, creates a drop of
UNITS units and BUYERS signed-in shoppers (one unit each), and fires their orders over HTTP from
127.0.0.1 with CONCURRENCY in flight until it is sold out. The raw baseline (bench/common.py)
gets the same load. Prints holds/s, p50/p99 latency of holds and of sold-out answers, oversell,
and the ratio app/raw; with --sweep, for 16, 64 and 256 in flight, and the 256/16 ratio.

    python -m bench.drop_rush [--units 10000] [--buyers 12000] [--concurrency 64] [--sweep]
"""

from __future__ import annotations

import argparse
import asyncio
import os

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


async def prepare_drop(dsn: str, units: int, buyers: int) -> tuple[int, list[str]]:
    """Shoppers signed in before the drop, and the drop itself."""
    from store import services as store

    async with orm(dsn):
        tokens = await signed_in_people(buyers, prefix="buyer")
        drop = await store.create_product(
            title="限量发售", description="", category="压测", price_fen=9_900, stock=units
        )
        return drop.id, tokens


async def oversell(dsn: str, product_id: int, units: int) -> int:
    connection = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
    try:
        claimed = await connection.fetchval(
            "SELECT count(*) FROM store_unit WHERE product_id = $1 AND order_id IS NOT NULL",
            product_id,
        )
        ordered = await connection.fetchval(
            "SELECT coalesce(sum(quantity), 0) FROM store_order_item WHERE product_id = $1",
            product_id,
        )
        return max(0, claimed - units) + abs(ordered - claimed)
    finally:
        await connection.close()


async def bench_app(units: int, buyers: int, concurrency: int) -> tuple[Run, int]:
    async with fresh_app_database("shuyuan_drop") as dsn:
        product_id, tokens = await prepare_drop(dsn, units, buyers)
        with serving_app(dsn) as base:
            run = await fire_from_processes(
                "app",
                base,
                [("/api/v1/orders", {"Authorization": f"Bearer {t}"}) for t in tokens],
                concurrency,
                CLIENT_PROCESSES,
                body={"items": [{"product_id": product_id, "quantity": 1}]},
            )
        return run, await oversell(dsn, product_id, units)


async def one_round(units: int, buyers: int, concurrency: int) -> tuple[Run, Run, int, int]:
    app_run, app_over = await bench_app(units, buyers, concurrency)
    raw_run, raw_over = await bench_raw(buyers, units, concurrency)
    print(
        f"drop rush: {units} units, {buyers} buyers, {concurrency} in flight from "
        f"{CLIENT_PROCESSES} client processes, uvicorn x{WORKERS}, PostgreSQL, 127.0.0.1, "
        f"{os.cpu_count()} CPUs"
    )
    print(HEADER)
    print(app_run.row())
    print(raw_run.row())
    ratio = (app_run.accepted / app_run.elapsed) / (raw_run.accepted / raw_run.elapsed)
    print(f"oversell: app {app_over}, raw {raw_over} (must be 0)")
    print(f"ratio app/raw holds/s: {ratio:.2f} (target >= 1.0)")
    print(f"statuses: app {app_run.statuses}, raw {raw_run.statuses}\n", flush=True)
    return app_run, raw_run, app_over, raw_over


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--buyers", type=int, default=12_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--sweep", action="store_true", help="16, 64 and 256 in flight")
    args = parser.parse_args()
    levels = [16, 64, 256] if args.sweep else [args.concurrency]
    rates = {}
    for level in levels:
        app_run, _, _, _ = await one_round(args.units, args.buyers, level)
        rates[level] = app_run.accepted / app_run.elapsed
    if args.sweep:
        print(f"app holds/s at 256 / at 16: {rates[256] / rates[16]:.2f} (target >= 0.9)")


if __name__ == "__main__":
    asyncio.run(main())
