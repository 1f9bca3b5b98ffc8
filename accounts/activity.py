"""What each person did on each day, counted for the numbers (active members): a kind of thing
and a count per (person, Asia/Shanghai day), written in batches by tallies.flush."""

from __future__ import annotations

from datetime import datetime

from tallies import Tally, TallyTable, shanghai_day

ACTIVITY = TallyTable("accounts_activity", keys=("user_id", "day", "kind"), counts=("count",))

# The kinds counted (a new kind needs no migration: it is a value of the `kind` column).
FEED_VIEW = "feed.view"
FEED_PLAY = "feed.play"
FEED_LOOKUP = "feed.lookup"
STORE_VIEW = "store.view"


def record(tally: Tally, user_id: int | None, kind: str, *, now: datetime) -> None:
    """Count one thing a signed-in person did (`user_id` None: nobody's, not counted here)."""
    if user_id is not None:
        tally.add(ACTIVITY, (user_id, shanghai_day(now), kind), "count")
