"""What one worker remembers of enrollment between requests, in one object the app builds."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from membership.models import EnrollmentWindow

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

    def known_full(self, window: EnrollmentWindow) -> bool:
        return self.full_until.get(window_key(window), 0.0) > time.monotonic()

    def remember_full(self, window: EnrollmentWindow) -> None:
        self.full_until[window_key(window)] = time.monotonic() + FULL_SECONDS

    def seat_came_back(self, window: EnrollmentWindow) -> None:
        self.full_until.pop(window_key(window), None)
