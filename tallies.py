"""Counts of what people do (a view, a play, a keyword lookup), kept in each worker's memory and
written in batches: nothing is written on the request path, and a flush is one upsert per table.

A table that takes counts is described once, beside its model, as a TallyTable: its key
columns (an item and a Shanghai day, say) and its count columns. Recording adds to a Counter;
`flush` adds every pending count to its row (`INSERT ... ON CONFLICT DO UPDATE SET n = n +
excluded.n`, on SQLite and PostgreSQL alike), and puts the counts back if the write fails, so a
failed flush loses nothing and the next one writes them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROWS_PER_STATEMENT = 500  # (keys + counts) x rows stays far below SQLite's 32,766 parameters


def shanghai_day(at: datetime) -> date:
    """The calendar day in Asia/Shanghai that `at` (aware) falls on: the day numbers count in."""
    return at.astimezone(SHANGHAI).date()


def minute_of(at: datetime) -> datetime:
    """`at` (aware) cut to the start of its minute, in UTC: a funnel's minute."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class TallyTable:
    """A table whose rows are counts: one row per key, each count column added to."""

    table: str
    keys: tuple[str, ...]
    counts: tuple[str, ...]


Key = tuple[Any, ...]


@dataclass
class Tally:
    """Counts not yet written, of every TallyTable, in one worker."""

    pending: Counter[tuple[TallyTable, Key, str]] = field(default_factory=Counter)

    def add(self, table: TallyTable, key: Key, column: str, n: int = 1) -> None:
        assert column in table.counts and len(key) == len(table.keys)
        self.pending[(table, key, column)] += n

    def forget(self) -> None:
        self.pending.clear()


def _upsert_sql(table: TallyTable, rows: int, postgres: bool) -> str:
    columns = [*table.keys, *table.counts]
    width = len(columns)
    values = ", ".join(
        "(" + ", ".join(f"${r * width + c + 1}" if postgres else "?" for c in range(width)) + ")"
        for r in range(rows)
    )
    added = ", ".join(f'"{c}" = "{table.table}"."{c}" + excluded."{c}"' for c in table.counts)
    names = ", ".join(f'"{c}"' for c in columns)
    keys = ", ".join(f'"{c}"' for c in table.keys)
    # Names are our TallyTable's (never input); every value is a parameter.
    return (
        f'INSERT INTO "{table.table}" ({names}) VALUES {values} '  # nosec B608
        f"ON CONFLICT ({keys}) DO UPDATE SET {added}"
    )


async def flush(tally: Tally) -> int:
    """Write every pending count; returns how many events were written. Runs every few
    seconds in each web worker and once more when it stops."""
    if not tally.pending:
        return 0
    batch = dict(tally.pending)
    tally.pending.clear()
    per_table: dict[TallyTable, dict[Key, dict[str, int]]] = {}
    for (table, key, column), n in batch.items():
        per_table.setdefault(table, {}).setdefault(key, {})[column] = n
    try:
        async with in_transaction() as connection:
            postgres = connection.capabilities.dialect == "postgres"
            # Tables by name and keys in order: two workers flushing at once take their row
            # locks in one order, so they wait for each other but never deadlock.
            for table in sorted(per_table, key=lambda t: t.table):
                rows = per_table[table]
                keys = sorted(rows)
                for start in range(0, len(keys), ROWS_PER_STATEMENT):
                    chunk = keys[start : start + ROWS_PER_STATEMENT]
                    params = [
                        value
                        for key in chunk
                        for value in (*key, *(rows[key].get(c, 0) for c in table.counts))
                    ]
                    await connection.execute_query(_upsert_sql(table, len(chunk), postgres), params)
    except Exception:
        for key, n in batch.items():  # not lost: written by the next flush
            tally.pending[key] += n
        raise
    return sum(batch.values())


# A funnel (viewed -> held -> paid, per minute) covers the minutes around a sale's opening;
# page views are counted per minute only within them.
FUNNEL_BEFORE = timedelta(minutes=30)
FUNNEL_AFTER = timedelta(hours=2)


def near_opening(opening: datetime | None, now: datetime) -> bool:
    """Whether `now` is within a funnel's span around `opening` (measured from `now`, so an
    opening stored at the calendar's edge, year 1 or 9999, overflows nothing)."""
    return opening is not None and -FUNNEL_BEFORE <= now - opening < FUNNEL_AFTER


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def funnel_minutes(opening: datetime) -> list[datetime]:
    """The minutes (UTC) of the funnel around `opening`, cut at the calendar's ends."""
    start = minute_of(opening - min(FUNNEL_BEFORE, opening - _EARLIEST))
    end = minute_of(opening + min(FUNNEL_AFTER, _LATEST - opening))
    return [start + timedelta(minutes=n) for n in range((end - start) // timedelta(minutes=1))]
