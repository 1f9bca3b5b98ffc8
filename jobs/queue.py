"""What the web app reads of the job queue: parked jobs for admins, its depth for /metrics.
Read through the app's own database connection (the queue is tables in the same database);
with embedded jobs there is no queue (its tables may not even exist), and both are empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise import connections

from db import read_sql

SQL = Path(__file__).resolve().parent / "sql"
_PARKED = read_sql(SQL / "parked.sql")
_DEPTH = read_sql(SQL / "depth.sql")


async def parked(runs_in: str, limit: int = 100) -> list[dict[str, Any]]:
    """The newest jobs that failed every retry (most recent first); none unless jobs run in
    `shuyuan worker` (settings.jobs == "worker")."""
    if runs_in != "worker":
        return []
    rows = await connections.get("default").execute_query_dict(_PARKED, [limit])
    return [dict(row) for row in rows]


async def depth(runs_in: str) -> dict[str, int]:
    """Jobs by status; none unless jobs run in `shuyuan worker`."""
    if runs_in != "worker":
        return {}
    rows = await connections.get("default").execute_query_dict(_DEPTH)
    return {str(row["status"]): int(row["jobs"]) for row in rows}


async def installed() -> bool:
    """Whether the job queue's tables are in the database (`shuyuan migrate` installs them)."""
    connection = connections.get("default")
    if str(connection.capabilities.dialect) != "postgres":
        return False
    rows = await connection.execute_query_dict(
        "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
    )
    return bool(rows[0]["present"])
