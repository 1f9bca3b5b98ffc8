"""What the community tells its members: the notice kinds of the board.

Registered in the app's notice kinds by the composition root; sent with accounts.notices.notify.
"""

from __future__ import annotations

from accounts.models import NoticeChannel
from accounts.notices import Kind
from translation import N_

KINDS: dict[str, Kind] = {
    "mention": Kind(
        N_("%(author)s mentioned you in “%(title)s”"),
        N_("%(author)s mentioned you"),
        NoticeChannel.INBOX,
        reminder=True,
        label=N_("Mentions"),
    ),
    # A post hidden by a moderator: with what members reported, or without when none did.
    "post_hidden": Kind(
        N_(
            "A moderator hid your post “%(title)s”. Members reported: %(reasons)s. "
            "You can still read it; others cannot."
        ),
        N_("Your post “%(title)s” was hidden"),
        NoticeChannel.INBOX,
        label=N_("My posts hidden by a moderator"),
    ),
    "post_hidden_by_moderator": Kind(
        N_(
            "A moderator hid your post “%(title)s” for breaking the board's rules. "
            "You can still read it; others cannot."
        ),
        N_("Your post “%(title)s” was hidden"),
        NoticeChannel.INBOX,
        label=N_("My posts hidden by a moderator"),
    ),
    "reply": Kind(
        N_("%(author)s replied to your post “%(title)s”"),
        N_("A reply to “%(title)s”"),
        NoticeChannel.INBOX,
        reminder=True,
        label=N_("Replies to my posts"),
    ),
}
