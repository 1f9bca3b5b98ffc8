"""What a new member is told they now have: the welcome page after paying, theirs to reopen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accounts.models import User
from membership import windows
from membership.errors import NoWindow
from membership.grants import is_member
from membership.models import Enrollment, EnrollmentStatus, EnrollmentWindow, MembershipGrant


@dataclass(frozen=True)
class Welcome:
    member_until: datetime
    window: EnrollmentWindow | None  # whose benefits they joined for
    benefits: list[str]
    renewed: bool = False  # a member before this grant: their renewal, not their first year


async def welcome_for(user: User, *, now: datetime) -> Welcome | None:
    """A member's welcome (None for someone who is not a member at `now`): until when, and the
    benefits of the window they last paid in, or, for a membership given without one, of the
    current window."""
    if not is_member(user, at=now) or user.member_until is None:
        return None
    paid = (
        await Enrollment.filter(user_id=user.id, status=EnrollmentStatus.PAID)
        .order_by("-paid_at", "-id")
        .select_related("window")
        .first()
    )
    window: EnrollmentWindow | None = paid.window if paid is not None else None
    if window is None:
        try:
            window = await windows.current_window(now=now)
        except NoWindow:
            window = None
    return Welcome(
        member_until=user.member_until,
        window=window,
        benefits=list(window.benefits) if window is not None else [],
        renewed=await MembershipGrant.filter(user_id=user.id).count() > 1,
    )
