"""The previous release's payments upgrade into the numbers: their success times and refunds
are filled in by the migration, and the first refresh backfills the days they fell on."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

UPGRADE_FROM_PREVIOUS_RELEASE = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from tortoise import Tortoise, connections
    from tortoise.migrations.api.migrate import migrate
    from db import tortoise_config

    PREVIOUS = ("accounts.0009_staff_roles_and_audit", "payments.0004_disputed",
                "membership.0005_window_benefits_and_faq", "store.0012_product_published",
                "community.0004_folded_keywords")

    async def main(url):
        config = tortoise_config(url)
        for target in PREVIOUS:
            await migrate(config=config, target=target)
        db = connections.get("default")
        # Shanghai 2 March: a payment fulfilled at 02:00 UTC (10:00 there); a payment that
        # succeeded, was never fulfilled and was refunded 3,000 fen, last changed on 3 March.
        await db.execute_script(
            "INSERT INTO accounts_user (email, display_name, password_hash, is_admin,"
            " created_at, bio, avatar_version) VALUES"
            " ('old@example.cn', 'Old', 'x', FALSE, '2026-03-01 20:00:00+00:00', '', 0);"
            "INSERT INTO payments_payment (user_id, purpose, subject_id, amount_fen, currency,"
            " status, method, refunded_fen, fulfilled_at, settlement, created_at, updated_at)"
            " VALUES (1, 'order', '1', 9900, 'cny', 'succeeded', 'card', 0,"
            " '2026-03-02 02:00:00+00:00', 'fulfilled', '2026-03-02 01:59:00+00:00',"
            " '2026-03-02 02:00:00+00:00'),"
            " (1, 'order', '2', 5000, 'cny', 'succeeded', 'card', 3000, NULL, 'fulfilled',"
            " '2026-03-02 01:00:00+00:00', '2026-03-03 01:00:00+00:00'),"
            " (1, 'order', '3', 7000, 'cny', 'failed', 'card', 0, NULL, NULL,"
            " '2026-03-02 01:00:00+00:00', '2026-03-02 01:00:00+00:00')"
        )
        await Tortoise.close_connections()
        await migrate(config=config)
        await Tortoise.init(config=config)
        from stats import rollups
        from stats.models import StatsDay
        await rollups.refresh(now=datetime(2026, 3, 3, 12, tzinfo=UTC))
        db = connections.get("default")
        payments = await db.execute_query_dict(
            "SELECT subject_id, succeeded_at FROM payments_payment ORDER BY subject_id"
        )
        print([(p["subject_id"], str(p["succeeded_at"])[:16]) for p in payments])
        refunds = await db.execute_query_dict(
            "SELECT payment_id, amount_fen, automatic FROM payments_refund"
        )
        print([(r["payment_id"], r["amount_fen"], bool(r["automatic"])) for r in refunds])
        days = await StatsDay.all().order_by("day").values_list("day", "revenue_fen", "refunds_fen")
        print([(str(day), revenue, refunds) for day, revenue, refunds in days])
        await Tortoise.close_connections()

    try:
        asyncio.run(main(sys.argv[1]))
    except BaseException:  # a connection's thread would keep the process alive: say and go
        import os, traceback
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    """
)


@pytest.mark.timeout(150)
def test_the_previous_releases_payments_get_success_times_refund_rows_and_days(
    empty_database: str,
) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", UPGRADE_FROM_PREVIOUS_RELEASE, empty_database],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    payments, refunds, days = done.stdout.strip().splitlines()[-3:]
    # Fulfilled: then. Never fulfilled nor confirmed: its last change. Failed: never.
    assert payments == ("[('1', '2026-03-02 02:00'), ('2', '2026-03-03 01:00'), ('3', 'None')]")
    assert refunds == "[(2, 3000, False)]"
    # Backfilled from the first account's day (Shanghai 2 March) through "today" (3 March).
    assert days == "[('2026-03-02', 9900, 0), ('2026-03-03', 5000, 3000)]"
