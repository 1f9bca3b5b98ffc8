"""Privacy's notice kind (registered by the composition root): a copy of one's data is ready,
told in the inbox to a person without a verified address (the others get a mail)."""

from __future__ import annotations

from accounts.models import NoticeChannel
from accounts.notices import Kind
from translation import N_

EXPORT_READY = "data_export_ready"

KINDS: dict[str, Kind] = {
    EXPORT_READY: Kind(
        N_(
            "The copy of your data is ready: download it from “Your data” until %(expires)s (Beijing time)."
        ),
        N_("The copy of your data is ready"),
        NoticeChannel.INBOX,
        label=N_("A copy of your data"),
    ),
}
