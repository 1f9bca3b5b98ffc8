"""What the web app reads of the job queue: parked jobs for admins, its depth for /metrics.
Read through the app's own database connection (the queue is tables in the same database);
with embedded jobs there is no queue, and both are empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise import connections

from db import read_sql

SQL = Path(__file__).resolve().parent / "sql"
_PARKED = read_sql(SQL / "parked.sql")
_DEPTH = read_sql(SQL / "depth.sql")


def _queue_present() -> bool:
    return str(connections.get("default").capabilities.dialect) == "postgres"


async def parked(limit: int = 100) -> list[dict[str, Any]]:
    """The newest jobs that failed every retry (most recent first)."""
    if not _queue_present():
        return []
    rows = await connections.get("default").execute_query_dict(_PARKED, [limit])
    return [dict(row) for row in rows]


async def depth() -> dict[str, int]:
    """Jobs by status."""
    if not _queue_present():
        return {}
    rows = await connections.get("default").execute_query_dict(_DEPTH)
    return {str(row["status"]): int(row["jobs"]) for row in rows}
