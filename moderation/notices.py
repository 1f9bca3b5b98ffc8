"""What moderation tells the authors whose words it held or hid: the review queue's decisions,
with the moderator's reason. Registered in the app's notice kinds by the composition root."""

from __future__ import annotations

from accounts.models import NoticeChannel
from accounts.notices import Kind
from translation import N_

KINDS: dict[str, Kind] = {
    "review_approved": Kind(
        N_("A moderator approved what you wrote (“%(excerpt)s”): it is shown now."),
        N_("What you wrote is shown now"),
        NoticeChannel.INBOX,
        label=N_("What the moderators decide about what I write"),
    ),
    "review_rejected": Kind(
        N_("A moderator did not publish what you wrote (“%(excerpt)s”): %(note)s"),
        N_("What you wrote was not published"),
        NoticeChannel.INBOX,
        label=N_("What the moderators decide about what I write"),
    ),
}
