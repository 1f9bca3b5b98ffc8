"""The dashboard's numbers for a range of Asia/Shanghai days, with the period just before it of
the same length beside them; read from the rollups (stats.rollups), never from the events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from errors import ValidationError
from stats.models import ExpiryMonth, StatsDay
from stats.rollups import NUMBERS

MAX_DAYS = 366

# How a range's total is made from its days: most numbers add up; the members are counted on
# the range's last day; the active members are a daily average (the same person active on
# ten days is one person, not ten).
LAST_DAY = frozenset({"members"})
AVERAGE = frozenset({"active_members"})


@dataclass(frozen=True)
class Report:
    first: date
    last: date
    days: list[dict[str, Any]]  # {"date": date, <number>: int} per day, oldest first
    previous: list[dict[str, Any]]  # the same for the period before, as long
    totals: dict[str, tuple[int, int]]  # number -> (this period, the period before)
    expiry_months: list[tuple[date, int]]
    refreshed_at: datetime | None  # the rollup's last refresh (None: never run)


def check_range(first: date, last: date) -> None:
    """Raises ValidationError for `first` after `last` or a range over MAX_DAYS days."""
    if first > last:
        raise ValidationError("from", "must not be after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError("to", f"a range is at most {MAX_DAYS} days")


def _total(name: str, days: list[dict[str, Any]]) -> int:
    if not days:
        return 0
    if name in LAST_DAY:
        return int(days[-1][name])
    total = sum(int(day[name]) for day in days)
    return round(total / len(days)) if name in AVERAGE else total


async def days_between(first: date, last: date) -> list[dict[str, Any]]:
    """Each day's numbers from `first` to `last` (both included); a day with no row (before
    the first refresh, or in the future) is all zeros."""
    rows = {
        row.pop("day"): row
        for row in await StatsDay.filter(day__gte=first, day__lte=last).values("day", *NUMBERS)
    }
    zeros = dict.fromkeys(NUMBERS, 0)
    return [
        {**zeros, **rows.get(day, {}), "date": day}
        for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
    ]


async def report(first: date, last: date) -> Report:
    """The range's days, the period before, their totals, and memberships by expiry month.
    Raises ValidationError (see check_range)."""
    check_range(first, last)
    length = (last - first).days + 1
    before_last = first - timedelta(days=1)
    days = await days_between(first, last)
    previous = await days_between(before_last - timedelta(days=length - 1), before_last)
    months = await ExpiryMonth.all().order_by("month").values_list("month", "members")
    refreshed = await StatsDay.all().order_by("-refreshed_at").first()
    return Report(
        first=first,
        last=last,
        days=days,
        previous=previous,
        totals={name: (_total(name, days), _total(name, previous)) for name in NUMBERS},
        expiry_months=[(month, int(n)) for month, n in months],
        refreshed_at=refreshed.refreshed_at if refreshed else None,
    )
