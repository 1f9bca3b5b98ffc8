"""What members wanted: lookups that nothing answered, counted per Asia/Shanghai day and folded
keyword (in the worker's memory, written every few seconds by keywords.tasks), listed for
admins by how often they were typed, and let go after KEEP_DAYS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tortoise.functions import Max, Sum
from tortoise.transactions import in_transaction

from community.feed import services as feed
from community.text import normalise_keyword
from db import for_dialect, read_sql
from keywords.matching import RuleBook
from keywords.memory import MISSES_HELD, KeywordMemory, MissCount
from keywords.models import MISS_MAX, KeywordMiss
from tallies import shanghai_day

SQL = Path(__file__).resolve().parent / "sql"
_RECORD = read_sql(SQL / "record_miss.sql")
# The most different keywords kept a day; later ones are counted together under OTHER.
KEYWORDS_A_DAY = 1000
OTHER = ""  # the key of a day's row of keywords past the limit
KEEP_DAYS = 180
LISTED = 200  # the most keywords a list shows


def record(memory: KeywordMemory, typed: str, *, now: datetime) -> None:
    """Count one lookup of `typed` that found nothing, folded (normalise_keyword) and per
    Shanghai day, in the worker's memory (written by `flush`). Past MISSES_HELD different
    words held, a new word is not counted until the next flush."""
    key = normalise_keyword(typed)[:MISS_MAX]
    if not key:
        return
    held = (shanghai_day(now), key)
    counted = memory.misses.get(held)
    if counted is not None:
        counted.count += 1
        counted.last_at = max(counted.last_at, now)
    elif len(memory.misses) < MISSES_HELD:
        memory.misses[held] = MissCount(typed.strip()[:MISS_MAX], 1, now)


async def flush(memory: KeywordMemory, *, kept_a_day: int = KEYWORDS_A_DAY) -> int:
    """Write the misses counted in `memory`, one upsert per (day, word) in one transaction;
    past `kept_a_day` different words on a day, a new one goes into the day's OTHER row.
    Returns how many lookups were written; on failure they stay for the next flush."""
    if not memory.misses:
        return 0
    batch = memory.misses
    memory.misses = {}
    try:
        async with in_transaction() as connection:
            sql = for_dialect(_RECORD, connection.capabilities.dialect)
            # In (day, word) order: two workers flushing at once take their row locks in one
            # order, so they wait for each other but never deadlock.
            for (day, key), counted in sorted(batch.items()):
                await connection.execute_query(
                    sql, [day, key, counted.sample, counted.last_at, kept_a_day, counted.count]
                )
    except Exception:
        for held, counted in batch.items():  # not lost: written by the next flush
            again = memory.misses.setdefault(held, MissCount(counted.sample, 0, counted.last_at))
            again.count += counted.count
            again.last_at = max(again.last_at, counted.last_at)
        raise
    return sum(counted.count for counted in batch.values())


@dataclass(frozen=True)
class Missed:
    """A keyword nothing answered over some days: how often, when last, and whether a rule or
    a feed item (live or scheduled) answers it now."""

    key: str  # folded; OTHER for the keywords past a day's limit
    sample: str  # as a member typed it
    count: int
    last_at: datetime
    answered: bool

    @property
    def other(self) -> bool:
        return self.key == OTHER


async def missed(*, days: int, now: datetime, book: RuleBook) -> list[Missed]:
    """The keywords nothing answered in the last `days` Shanghai days (today included), summed
    over the days, the most typed first (then the latest), each marked when a rule (`book`) or
    a feed item (live or scheduled) has it now."""
    since = shanghai_day(now) - timedelta(days=days - 1)
    rows = (
        await KeywordMiss.filter(day__gte=since)
        .annotate(total=Sum("count"), last=Max("last_at"), typed=Max("sample"))
        .group_by("key")
        .order_by("-total", "-last", "key")
        .limit(LISTED)
        .values("key", "total", "last", "typed")
    )
    # A word a scheduled item has counts too: a rule could not be given it.
    live = await feed.keywords_taken([row["key"] for row in rows if row["key"] != OTHER])
    return [
        Missed(
            key=row["key"],
            sample=row["typed"],
            count=row["total"],
            last_at=row["last"],
            answered=row["key"] != OTHER and (row["key"] in live or book.answers(row["typed"])),
        )
        for row in rows
    ]


async def prune(*, now: datetime) -> int:
    """Let go of the days older than KEEP_DAYS; returns how many rows went."""
    return await KeywordMiss.filter(day__lt=shanghai_day(now) - timedelta(days=KEEP_DAYS)).delete()
