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
        # In the inbox; by mail only when the member chose it: the box "also email me the
        # answer" on the message forms (ticked for a new conversation), or the notices page.
        NoticeChannel.INBOX,
        label=N_("Answers from customer service"),
    ),
}
