"""Daily rollups: each Asia/Shanghai day's numbers computed once from what the packages record
(accounts, grants, payments and refunds, orders, posts and replies, the per-day counters) and
kept in stats_day, so that the dashboard reads rows, not events.

`refresh` is the job (every minute): it recomputes the day before the last one it wrote
through today (a late count of yesterday's reaches its row), and on its first run every day
since the first account (the backfill of the days before rollups existed), at most
MAX_DAYS_PER_RUN days a run. Each day is recomputed whole, so a run repeated changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from accounts.models import User
from db import for_dialect, read_sql
from stats.models import ExpiryMonth, StatsDay
from tallies import SHANGHAI, shanghai_day

_DAY_SQL = read_sql(Path(__file__).parent / "sql" / "day.sql")
_EXPIRY_SQL = read_sql(Path(__file__).parent / "sql" / "expiry_months.sql")

# The numbers of a day, as the API names them (and stats_day's columns).
NUMBERS = (
    "new_accounts",
    "members",
    "active_members",
    "feed_views",
    "feed_plays",
    "keyword_lookups",
    "product_views",
    "board_posts",
    "board_replies",
    "revenue_fen",
    "units_sold",
    "refunds_fen",
)
MAX_DAYS_PER_RUN = 400  # a backfill of years goes on in the next runs
EXPIRY_MONTHS = 13  # this month and the twelve after it


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a Shanghai day starts and ends (half-open). In UTC, not merely aware:
    SQLite compares the stored text, which is UTC."""
    start = datetime.combine(day, time(), tzinfo=SHANGHAI).astimezone(UTC)
    return start, start + timedelta(days=1)


async def _fetch(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    connection = connections.get("default")
    rows = await connection.execute_query_dict(
        for_dialect(sql, connection.capabilities.dialect), params
    )
    return list(rows)


async def compute_day(day: date) -> dict[str, int]:
    """One day's numbers from what was recorded (see sql/day.sql for each definition)."""
    start, end = day_bounds(day)
    row = (await _fetch(_DAY_SQL, [start, end, day]))[0]
    return {name: int(row[name] or 0) for name in NUMBERS}


async def refresh_day(day: date, *, now: datetime) -> dict[str, int]:
    """Recompute and keep one day's row; returns its numbers."""
    numbers = await compute_day(day)
    updated = await StatsDay.filter(day=day).update(**numbers, refreshed_at=now)
    if not updated:
        try:
            await StatsDay(day=day, refreshed_at=now, **numbers).save()
        except IntegrityError:  # another run wrote the day meanwhile: it is recomputed anyway
            await StatsDay.filter(day=day).update(**numbers, refreshed_at=now)
    return numbers


async def refresh_expiry_months(*, now: datetime) -> None:
    """How many current memberships end in each of the next EXPIRY_MONTHS months."""
    first = shanghai_day(now).replace(day=1)
    months = [first]
    while len(months) <= EXPIRY_MONTHS:
        last = months[-1]
        months.append((last + timedelta(days=32)).replace(day=1))
    counts = []
    for month, following in pairwise(months):
        start = datetime.combine(month, time(), tzinfo=SHANGHAI).astimezone(UTC)
        end = datetime.combine(following, time(), tzinfo=SHANGHAI).astimezone(UTC)
        row = (await _fetch(_EXPIRY_SQL, [now.astimezone(UTC), start, end]))[0]
        counts.append((month, int(row["members"] or 0)))
    async with in_transaction():
        await ExpiryMonth.all().delete()
        await ExpiryMonth.bulk_create(
            [ExpiryMonth(month=month, members=n, refreshed_at=now) for month, n in counts]
        )


@dataclass(frozen=True)
class Refreshed:
    first: date | None
    last: date | None
    days: int


async def days_to_refresh(today: date) -> list[date]:
    """The day before the last one written through today; with no row yet, every day since
    the first account was made. At most MAX_DAYS_PER_RUN, oldest first."""
    latest = await StatsDay.all().order_by("-day").first()
    start: date
    if latest is not None:
        start = min(latest.day - timedelta(days=1), today)
    else:
        first = await User.all().order_by("created_at").first()
        start = shanghai_day(first.created_at) if first is not None else today
    days = (today - start).days + 1
    return [start + timedelta(days=n) for n in range(min(days, MAX_DAYS_PER_RUN))]


async def refresh(*, now: datetime) -> Refreshed:
    """The job: bring the rollups up to date (see the module docstring)."""
    days = await days_to_refresh(shanghai_day(now))
    for day in days:
        await refresh_day(day, now=now)
    await refresh_expiry_months(now=now)
    return Refreshed(days[0] if days else None, days[-1] if days else None, len(days))
