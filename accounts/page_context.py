"""What every page shows of the signed-in person: the unread notices badge, a notice's text in
the reader's language, avatars. Handed to web's render by the app factory (web/ imports no
package)."""

from __future__ import annotations

from typing import Any

from accounts import notices, profiles, services
from accounts.models import Notification, User
from translation import supported, translations


async def page_context(user: User | None, locale: str) -> dict[str, Any]:
    def notice_text(notification: Notification) -> str:
        return notices.text_of(notification, locale)

    def avatar_url(person: User | None, size: str = "small") -> str | None:
        """A person's avatar as this reader may see it (a waiting one: its owner only)."""
        return profiles.avatar_url(person, size, viewer=user)

    gettext = translations(supported(locale)).gettext

    def person_name(person: User) -> str:
        """How every page names a person: an erased one (注销) as "已注销用户"."""
        return profiles.shown_name(person, gettext)

    return {
        "unread_count": await services.unread_count(user) if user else 0,
        "notice_text": notice_text,
        "avatar_url": avatar_url,
        "person_name": person_name,
    }
