"""What one worker remembers of enrollment between requests, in one object the app builds."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from batches import StatementBatch
from membership.models import EnrollmentWindow
from membership.seats import seat_batch

# In a rush most requests come after the last seat went: a window seen full is answered from
# memory for this long. A seat that comes back in another worker is seen here at most this
# much later (in this worker, at once).
FULL_SECONDS = 1.0

WindowKey = tuple[int, float]  # (id, created_at): a window made again under a reused id is new


def window_key(window: EnrollmentWindow) -> WindowKey:
    return (window.id, window.created_at.timestamp())


@dataclass
class SeatMemory:
    full_until: dict[WindowKey, float] = field(default_factory=dict)  # monotonic times
    # Windows read in the last FULL_SECONDS (a rush reads one window thousands of times a
    # second; an admin's change is seen here at most this much later).
    windows: dict[int, tuple[float, EnrollmentWindow]] = field(default_factory=dict)
    batch: StatementBatch = field(default_factory=seat_batch)  # seat holds waiting to go

    async def window(self, window_id: int) -> EnrollmentWindow:
        """The window, as read at most FULL_SECONDS ago. Raises WindowNotFound."""
        seen = self.windows.get(window_id)
        if seen is not None and seen[0] > time.monotonic():
            return seen[1]
        from membership.windows import get_window

        window = await get_window(window_id)
        if len(self.windows) > 1000:
            self.windows.clear()
        self.windows[window_id] = (time.monotonic() + FULL_SECONDS, window)
        return window

    def known_full(self, window: EnrollmentWindow) -> bool:
        return self.full_until.get(window_key(window), 0.0) > time.monotonic()

    def remember_full(self, window: EnrollmentWindow) -> None:
        self.full_until[window_key(window)] = time.monotonic() + FULL_SECONDS

    def seat_came_back(self, window: EnrollmentWindow) -> None:
        self.full_until.pop(window_key(window), None)
