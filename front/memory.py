"""What one worker remembers of the front page: its parts that are the same for every reader
of one kind, for a few seconds (the page everyone opens at 07:00)."""

from __future__ import annotations

from dataclasses import dataclass, field

from community.feed.memory import Answers


@dataclass
class FrontMemory:
    today: Answers = field(default_factory=Answers)
    # The board's liveliest threads, apart: a post deleted, hidden or shown again empties
    # these at once (changes.BOARD), not the rest of the page.
    threads: Answers = field(default_factory=Answers)

    def forget(self) -> None:
        self.today = Answers()
        self.forget_threads()

    def forget_threads(self) -> None:
        self.threads.clear()
