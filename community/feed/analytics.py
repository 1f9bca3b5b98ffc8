"""Views, plays and keyword lookups of feed items: counted in memory, written in batches (no
write on the request path). Each is counted three ways: the item's running totals (its
columns, shown beside the item), the item's day (FeedItemDay, for the dashboard) and, for a
signed-in reader, the reader's day (accounts.activity, for active members)."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from accounts import activity
from community.feed.memory import FeedMemory
from tallies import TallyTable, shanghai_day

ANALYTICS_FIELDS = ("views", "plays", "lookups")
ITEM_DAYS = TallyTable("community_feed_item_day", keys=("item_id", "day"), counts=ANALYTICS_FIELDS)
ACTIVITY_KINDS = {
    "views": activity.FEED_VIEW,
    "plays": activity.FEED_PLAY,
    "lookups": activity.FEED_LOOKUP,
}


def record(
    memory: FeedMemory,
    item_id: int,
    what: str,
    *,
    user_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Count one view, play or keyword lookup of an item (written by flush_analytics and
    tallies.flush), by `user_id` when signed in."""
    assert what in ANALYTICS_FIELDS
    now = now or datetime.now(UTC)
    memory.pending[(item_id, what)] += 1
    memory.tally.add(ITEM_DAYS, (item_id, shanghai_day(now)), what)
    activity.record(memory.tally, user_id, ACTIVITY_KINDS[what], now=now)


def count_feed_view(
    memory: FeedMemory, item_ids: list[int], *, first_page: bool, user_id: int | None = None
) -> None:
    """Today's item is shown in full at the top of the feed's first page: it counts as
    viewed (a later page shows nothing new at its top)."""
    if first_page and item_ids:
        record(memory, item_ids[0], "views", user_id=user_id)


def count_item_view(memory: FeedMemory, item_id: int, *, user_id: int | None = None) -> None:
    """An item's own page counts as one view."""
    record(memory, item_id, "views", user_id=user_id)


def count_play(
    memory: FeedMemory, item_id: int, *, byte_range: str, user_id: int | None = None
) -> None:
    """A player starting from the beginning (no Range, or one from byte 0) counts as a play;
    a seek does not."""
    if not byte_range or byte_range.replace(" ", "").startswith("bytes=0-"):
        record(memory, item_id, "plays", user_id=user_id)


async def flush_analytics(memory: FeedMemory) -> int:
    """Write the counted events; returns how many. Runs every few seconds and at shutdown."""
    if not memory.pending:
        return 0
    batch = dict(memory.pending)
    memory.pending.clear()
    per_field: dict[str, dict[int, int]] = {}
    for (item_id, what), count in batch.items():
        per_field.setdefault(what, {})[item_id] = count
    try:
        async with in_transaction() as connection:
            postgres = connection.capabilities.dialect == "postgres"
            for what, counts in per_field.items():
                # One statement per counter, whatever the number of items (both databases).
                ids = list(counts)
                n = len(ids)
                marks = [f"${i}" if postgres else "?" for i in range(1, 3 * n + 1)]
                cases = " ".join(f"WHEN {marks[2 * i]} THEN {marks[2 * i + 1]}" for i in range(n))
                within = ", ".join(marks[2 * n :])
                # A column name of ours and placeholders; every value is a parameter.
                column = f'"{what}"'
                sql = (
                    f'UPDATE "community_feed_item" SET {column} = {column} + CASE "id" {cases} '  # nosec B608
                    f'ELSE 0 END WHERE "id" IN ({within})'
                )
                params = [value for item_id in ids for value in (item_id, counts[item_id])]
                await connection.execute_query(sql, [*params, *ids])
    except Exception:
        for key, count in batch.items():  # not lost: counted again next time
            memory.pending[key] += count
        raise
    return sum(batch.values())
