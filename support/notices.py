"""The notice kinds of customer service (registered by the composition root): a staff reply
reaching its member, and a moderator's word on a member's message (support.reviewables)."""

from __future__ import annotations

from accounts.models import NoticeChannel
from accounts.notices import Kind
from translation import N_

SUPPORT_REPLY = "support_reply"
MESSAGE_REJECTED = "message_rejected"

KINDS: dict[str, Kind] = {
    SUPPORT_REPLY: Kind(
        N_("Customer service answered you: “%(excerpt)s”"),
        N_("Customer service answered you"),
        # In the inbox; by mail only when the member chose it: the box "also email me the
        # answer" on the message forms (ticked for a new conversation), or the notices page.
        NoticeChannel.INBOX,
        label=N_("Answers from customer service"),
    ),
    MESSAGE_REJECTED: Kind(
        N_(
            "A moderator read your message to customer service (“%(excerpt)s”) and asks you to keep to the community's rules: %(note)s"
        ),
        N_("A moderator read your message to customer service"),
        NoticeChannel.INBOX,
        label=N_("What the moderators decide about what I write"),
    ),
}
