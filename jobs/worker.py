"""What one worker process (a web worker, or `shuyuan worker`) remembers beside its database:
its memories. Here, above every package, because it names theirs."""

from __future__ import annotations

from dataclasses import dataclass, field

import changes
from accounts.legal_documents import LegalVersions
from community.board.permissions import BoardSettingsMemory
from community.feed import tasks as feed_tasks
from community.feed.memory import FeedMemory
from front.memory import FrontMemory
from keywords import tasks as keyword_tasks
from keywords.memory import KeywordMemory
from membership.memory import SeatMemory
from moderation.words import WatchedWords
from store.memory import StoreMemory
from tallies import Tally


@dataclass
class WorkerMemory:
    """Every per-worker cache and memory, built by the app factory (app.state.memory): what a
    worker remembers is visible in one place, and a new app starts with none of it."""

    store: StoreMemory = field(default_factory=StoreMemory)
    seats: SeatMemory = field(default_factory=SeatMemory)
    feed: FeedMemory = field(default_factory=FeedMemory)
    front: FrontMemory = field(default_factory=FrontMemory)
    keywords: KeywordMemory = field(default_factory=KeywordMemory)
    # The watched words' automaton (moderation.words), rebuilt when the lists change.
    watched: WatchedWords = field(default_factory=WatchedWords)
    # Counts of views, plays and lookups per day and minute, not yet written (tallies): one
    # for the worker, shared with the feed's memory, which records into it too.
    tally: Tally = field(default_factory=Tally)
    # The current versions of the legal documents (accounts.consents), read at most once a
    # second: every request of a signed-in person is checked against them.
    legal: LegalVersions = field(default_factory=LegalVersions)
    # Whether the board is members-only (community.board.permissions), read at most once a
    # second: every signed-in non-member's front page asks.
    board: BoardSettingsMemory = field(default_factory=BoardSettingsMemory)

    def __post_init__(self) -> None:
        self.feed.tally = self.tally

    def forget(self) -> None:
        """Forget everything (a test emptied the database under a running app)."""
        self.store.forget()
        self.seats.full_until.clear()
        self.seats.windows.clear()
        self.feed.forget()
        self.front.forget()
        self.keywords.forget()
        self.watched.forget()
        self.tally.forget()
        self.legal.forget()
        self.board.forget()

    def heard(self, change: changes.Change | None) -> None:
        """A change announced by some worker of some host (this one's too: it forgot already,
        and forgetting twice costs a read). None: some may have been missed, so every shared
        memory goes; the counts not yet written stay (they are this worker's own)."""
        topic = change.topic if change is not None else None
        if topic in (changes.PRODUCT, None):
            self.store.forget(int(change.key) if change and change.key.isdigit() else None)
        if topic in (changes.WINDOW, None):
            self.seats.full_until.clear()
            self.seats.windows.clear()
        if topic in (changes.FEED, None):
            self.feed.written()
        if topic in (changes.PRODUCT, changes.WINDOW, changes.FEED, None):
            self.front.forget()  # today's page shows the three
        if topic == changes.BOARD:
            self.front.forget_threads()
        if topic in (changes.BOARD, None):
            self.board.forget()
        if topic in (changes.KEYWORDS, None):
            self.keywords.written()
        if topic in (changes.WATCHED_WORDS, None):
            self.watched.forget()
        if topic in (changes.LEGAL, None):
            self.legal.forget()


async def write_counts(memory: WorkerMemory) -> None:
    """Write every count the worker holds: the feed's running totals (and the tally, which the
    feed's flush_counts writes next), the auto-replies' hits and missed words."""
    await keyword_tasks.flush_counts(memory.keywords)
    await feed_tasks.flush_counts(memory.feed, memory.tally)
