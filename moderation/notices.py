"""What moderation tells people: authors, the review queue's decisions on what they wrote (with
the moderator's reason) and on their profile or new avatar; reporters, what came of their
reports. Registered in the app's notice kinds by the composition root."""

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
    # A display name or bio with a flag word, rejected (moderation.profiles).
    "profile_reset": Kind(
        N_(
            "A moderator reset your display name and cleared your bio (“%(excerpt)s”); you may choose them again on your profile. The reason: %(note)s"
        ),
        N_("Your display name was reset"),
        NoticeChannel.INBOX,
        label=N_("What the moderators decide about what I write"),
    ),
    # A young account's new avatar, decided (moderation.profiles).
    "avatar_approved": Kind(
        N_("A moderator approved your new avatar: everyone sees it now."),
        N_("Your new avatar is shown"),
        NoticeChannel.INBOX,
        label=N_("What the moderators decide about what I write"),
    ),
    "avatar_removed": Kind(
        N_(
            "A moderator removed your new avatar; you may upload another on your profile. The reason: %(note)s"
        ),
        N_("Your new avatar was removed"),
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
