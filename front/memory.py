"""What one worker remembers of the front page: its parts that are the same for every reader
of one kind, for a few seconds (the page everyone opens at 07:00)."""

from __future__ import annotations

from dataclasses import dataclass, field

from community.feed.memory import Answers


@dataclass
class FrontMemory:
    today: Answers = field(default_factory=Answers)

    def forget(self) -> None:
        self.today = Answers()
