"""What membership tells its members: the notice kinds of seats, grants and renewals.

Registered in the app's notice kinds by the composition root; sent with accounts.notices.notify.
"""

from __future__ import annotations

from accounts.models import NoticeChannel
from accounts.notices import Kind
from membership import mail
from translation import N_

KINDS: dict[str, Kind] = {
    "membership_granted": Kind(
        N_("Your membership is valid until %(date)s."),
        N_("Your Shuyuan membership"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Receipts"),
        mail=mail.welcome,
    ),
    "renewal_reminder": Kind(
        N_("Your membership ends on %(date)s: renew it."),
        N_("Your membership ends on %(date)s"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Renewal reminders"),
        mail=mail.renewal,
    ),
    "seat_offered": Kind(
        N_("A seat in “%(window)s” is yours for 10 minutes: enroll now."),
        N_("A seat is waiting for you"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Waitlist seats"),
    ),
    "window_open": Kind(
        N_("Enrollment for “%(window)s” is open."),
        N_("Enrollment for “%(window)s” is open"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Enrollment opening"),
    ),
    "enrollment_paid_late": Kind(
        N_(
            "Your payment for “%(window)s” arrived after the seat was released; a seat was still free, so it is yours and your membership is active."
        ),
        N_("Your seat in “%(window)s” is yours after all"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Late payments"),
    ),
    "enrollment_refunded_late": Kind(
        N_(
            "Your payment for “%(window)s” arrived after the seat was released and no seat was left; the money has been refunded in full."
        ),
        N_("“%(window)s”: your money is refunded"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Late payments"),
    ),
}
