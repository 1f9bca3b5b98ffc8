"""What membership's mails show beyond their sentence (accounts.notices' mail hooks, named by
membership's notice kinds): the welcome with what a member now has, and the renewal reminder
with the window's price."""

from __future__ import annotations

from accounts.models import Notification
from accounts.notices import MailExtras
from membership import windows
from membership.errors import NoWindow
from membership.models import EnrollmentWindow
from translation import translations, yuan


async def _window(notification: Notification) -> EnrollmentWindow | None:
    """The window the membership pages show when the notice was written (windows.
    current_window's rule: the open one, else the next, else the last)."""
    try:
        return await windows.current_window(now=notification.created_at)
    except NoWindow:
        return None


async def welcome(notification: Notification, locale: str) -> MailExtras | None:
    """The membership's welcome: what members get, and the card."""
    _ = translations(locale).gettext
    window = await _window(notification)
    benefits = tuple(
        f"· {line}" for line in (window.benefits if window else []) if str(line).strip()
    )
    lines = (_("What members get:"), *benefits) if benefits else ()
    return MailExtras(
        lines=lines,
        action_label=_("Your membership card"),
        after=(_("The card shows your number and how long the membership lasts."),),
    )


async def renewal(notification: Notification, locale: str) -> MailExtras | None:
    """The renewal reminder: the open window's price, and one tap to renew."""
    _ = translations(locale).gettext
    window = await _window(notification)
    facts = ((_("Renewal"), yuan(window.price_fen)),) if window is not None else ()
    return MailExtras(
        facts=facts,
        action_label=_("Renew"),
        after=(_("Renewing adds a year to the day your membership ends now."),),
    )
