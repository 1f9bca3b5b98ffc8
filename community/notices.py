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
    "reply": Kind(
        N_("%(author)s replied to your post “%(title)s”"),
        N_("A reply to “%(title)s”"),
        NoticeChannel.INBOX,
        reminder=True,
        label=N_("Replies to my posts"),
    ),
}
