"""The notice kind broadcasts arrive as (registered by the composition root)."""

from __future__ import annotations

from accounts.models import NoticeChannel
from accounts.notices import Kind
from crm.segments import BROADCAST_KIND
from translation import N_

KINDS: dict[str, Kind] = {
    BROADCAST_KIND: Kind(
        "%(title)s",
        "%(title)s",
        NoticeChannel.INBOX,  # mail only for those who said yes to it (consent)
        reminder=True,  # one-click unsubscribe (RFC 8058)
        label=N_("Messages from Shuyuan, at most one a day"),
        consent=N_(
            "I agree to receive Shuyuan's messages by mail, which may include offers, at most "
            "one a day. I can stop them at any time with one click."
        ),
    ),
}
