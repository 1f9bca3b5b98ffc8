"""The notice kind a staff reply reaches its member as (registered by the composition root)."""

from __future__ import annotations

from accounts.models import NoticeChannel
from accounts.notices import Kind
from translation import N_

SUPPORT_REPLY = "support_reply"

KINDS: dict[str, Kind] = {
    SUPPORT_REPLY: Kind(
        N_("Customer service answered you: “%(excerpt)s”"),
        N_("Customer service answered you"),
        # In the inbox and by mail: an answer to a question the member asked and is waiting
        # for (not a reminder, not an offer). They may choose the inbox only, or nothing.
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Answers from customer service"),
    ),
}
