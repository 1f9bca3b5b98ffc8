"""What one worker remembers of the auto-replies between requests, in one object the app builds:
every rule's keywords and replies (keywords.matching reads them in), for a few seconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from community.feed.memory import Answers


@dataclass
class KeywordMemory:
    """The rule book (keywords.matching.RuleBook) as this worker last read it: read again when
    it is a few seconds old, and at once after this worker saved a change to a rule."""

    rules: Answers = field(default_factory=Answers)
    # Bumped by every change in this worker: a reading of the rules begun before the change
    # is kept under the old number, so it cannot stand in for the rules after it.
    generation: int = 0

    def written(self) -> None:
        """A rule changed in this worker: read the rules again at the next lookup."""
        self.generation += 1
        self.rules.clear()

    def forget(self) -> None:
        self.written()
