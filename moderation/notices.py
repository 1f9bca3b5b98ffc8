"""What moderation tells people: authors, the review queue's decisions on what they wrote (with
the moderator's reason); reporters, what came of their reports. Registered in the app's notice
kinds by the composition root."""

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
    "report_taken_down": Kind(
        N_("We looked at what you reported (“%(excerpt)s”) and took it down. Thank you."),
        N_("What you reported was taken down"),
        NoticeChannel.INBOX,
        label=N_("What comes of my reports"),
    ),
    "report_dismissed": Kind(
        N_("We looked at what you reported (“%(excerpt)s”) and left it up: %(note)s"),
        N_("What you reported stays up"),
        NoticeChannel.INBOX,
        label=N_("What comes of my reports"),
    ),
}
