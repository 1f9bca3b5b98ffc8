"""What moderation tells the authors whose words it held or hid, and the people whose profile
or avatar it decided on: the review queue's decisions, with the moderator's reason.
Registered in the app's notice kinds by the composition root."""

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
}
