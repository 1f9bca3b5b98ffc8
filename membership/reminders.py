""" "Tell me when enrollment opens": people waiting for an upcoming window, told when it opens.

Asking is only for a window that has not opened; each person is told once per window (the
reminder is claimed by one guarded UPDATE before the notice is written, so two job runs
never tell twice), by the window_open notice (inbox, and mail for those who chose it).
"""

from __future__ import annotations

from datetime import datetime

import links
from accounts import notices
from accounts.models import User
from membership.errors import Closed
from membership.models import WindowReminder
from membership.windows import WindowState, get_window, window_state


async def remind_me(*, window_id: int, user: User, now: datetime) -> bool:
    """Ask to be told when the window opens; False when it is open already (nothing to wait
    for). Raises WindowNotFound, Closed."""
    window = await get_window(window_id)
    state = window_state(window, now)
    if state == WindowState.CLOSED:
        raise Closed()
    if state == WindowState.OPEN:
        return False
    await WindowReminder.get_or_create(window_id=window.id, user_id=user.id)
    return True


async def waiting_for(window_id: int, user: User | None) -> bool:
    if user is None:
        return False
    return await WindowReminder.filter(
        window_id=window_id, user_id=user.id, notified_at__isnull=True
    ).exists()


async def send_window_reminders(*, now: datetime) -> int:
    """Tell everyone waiting for a window that has opened."""
    sent = 0
    for reminder in await WindowReminder.filter(
        notified_at__isnull=True, window__opens_at__lte=now
    ).select_related("window"):
        claimed = await WindowReminder.filter(id=reminder.id, notified_at__isnull=True).update(
            notified_at=now
        )
        if not claimed:
            continue
        if window_state(reminder.window, now) != WindowState.OPEN:
            continue  # it opened and closed while nobody looked: nothing to tell
        await notices.notify(
            reminder.user_id,  # type: ignore[attr-defined]
            kind="window_open",
            params={"window": reminder.window.name},
            link=links.path("membership.window_page"),
            now=now,
        )
        sent += 1
    return sent
