"""The demo's past (demo.history): its calendar, its seeded chance, and who was there when."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from accounts.models import User
from community.feed.memory import FeedMemory
from community.feed.models import FeedItem
from payments.provider import PaymentProvider
from tallies import SHANGHAI

DAYS = 35  # Shanghai days of history, today the last
SEED = 29
# Days of the history (0 the first, DAYS - 1 today) when something happened.
WINDOW_OPENS, WINDOW_CLOSES = 1, 8  # the founding window, at 20:00
MENTION = 14  # the community was mentioned in a talk: many joined
DROP = 25  # the drop, at 20:00 (members from 19:30)
COMPLIMENTARY = (12, 19, 27)  # a guest speaker given a year
REFUNDS = (11, 23)
EVENING = time(20, 0)
HOURS = (7, 7, 8, 8, 8, 9, 12, 12, 13, 18, 19, 20, 21, 21, 22, 22, 23)  # when people read

MIDNIGHT = time()


def shanghai(day: date, at: time = MIDNIGHT) -> datetime:
    """That wall-clock time of a Shanghai day, as the UTC instant the services keep (SQLite
    compares stored times as text: every one of them must be UTC)."""
    return datetime.combine(day, at, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Past:
    """What the history is made with, and what it has made so far."""

    rng: random.Random
    now: datetime
    provider: PaymentProvider
    admin: User
    days: list[date]
    var_dir: Path  # audio under audio/, pictures under media/
    memory: FeedMemory = field(default_factory=FeedMemory)  # the counters, written at the end
    people: list[User] = field(default_factory=list)  # the history's people, in joining order
    member_from: dict[int, datetime] = field(default_factory=dict)  # person -> membership began
    items: dict[date, FeedItem] = field(default_factory=dict)  # the morning items, by day

    def chance(self, *step: object) -> None:
        """Seed the chance for one step of the story (its name, its day): each step is told
        the same way whatever the steps before it drew, and whatever the hour today."""
        self.rng.seed(":".join(map(str, (SEED, *step))))

    def moment(self, day: date, *, after: datetime | None = None) -> datetime | None:
        """A time on `day` when people read (mornings, lunch, evenings), after `after` and
        before now; None if the day has no such time left."""
        start = shanghai(day)
        at = start + timedelta(
            hours=self.rng.choice(HOURS),
            minutes=self.rng.randrange(60),
            seconds=self.rng.randrange(60),
        )
        if after is not None and at <= after:
            at = after + timedelta(minutes=self.rng.randint(3, 90))
        if at >= start + timedelta(days=1) or at >= self.now - timedelta(minutes=1):
            return None
        return at

    def member_at(self, user: User, at: datetime) -> bool:
        began = self.member_from.get(user.id)
        return began is not None and began <= at

    def living(self, at: datetime) -> list[User]:
        """The history's people whose account existed at `at`."""
        return [person for person in self.people if person.created_at <= at]

    def item_of(self, day: date) -> FeedItem | None:
        """The latest morning item out by the end of `day`."""
        out = [d for d in self.items if d <= day]
        return self.items[max(out)] if out else None
