"""Views of the enrollment window's page per minute around its opening: the first step of the
window's funnel (viewed -> held -> paid); counted in memory and written in batches (tallies)."""

from __future__ import annotations

from datetime import datetime

from membership.models import EnrollmentWindow
from tallies import Tally, TallyTable, minute_of, near_opening

WINDOW_MINUTES = TallyTable(
    "membership_window_minute", keys=("window_id", "minute"), counts=("views",)
)


def count_window_view(tally: Tally, window: EnrollmentWindow | None, now: datetime) -> None:
    """The window's page (or the API's current window) was read: one view, in its funnel's
    minute when near its opening."""
    if window is not None and near_opening(window.opens_at, now):
        tally.add(WINDOW_MINUTES, (window.id, minute_of(now)), "views")
