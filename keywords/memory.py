"""What one worker remembers of the auto-replies between requests, in one object the app builds:
every rule's keywords and replies (keywords.matching reads them in), for a few seconds; and the
rules' hits and the missed words counted since the last write (keywords.tasks writes them)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from community.feed.memory import Answers

# The most different missed words one worker holds between two writes: past it, a new word is
# not counted until the next write (words already held still are), so a bot typing random
# strings cannot grow a worker's memory without bound.
MISSES_HELD = 10_000


@dataclass
class MissCount:
    """One missed word on one day, counted since the last write."""

    sample: str  # the first form typed
    count: int
    last_at: datetime


@dataclass
class KeywordMemory:
    """The rule book (keywords.matching.RuleBook) as this worker last read it: read again when
    it is a few seconds old, and at once after this worker saved a change to a rule. And the
    counts not yet written: each rule's hits, each (Shanghai day, folded word)'s misses."""

    rules: Answers = field(default_factory=Answers)
    # Bumped by every change in this worker: a reading of the rules begun before the change
    # is kept under the old number, so it cannot stand in for the rules after it.
    generation: int = 0
    hits: Counter[int] = field(default_factory=Counter)
    misses: dict[tuple[date, str], MissCount] = field(default_factory=dict)

    def written(self) -> None:
        """A rule changed in this worker: read the rules again at the next lookup."""
        self.generation += 1
        self.rules.clear()

    def forget(self) -> None:
        self.written()
        self.hits.clear()
        self.misses.clear()
