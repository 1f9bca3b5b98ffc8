"""An order's history as people read it: the notes the store writes on an order's events are
kept as stored (short English words admins and logs read), and read out as sentences in the
reader's language; notes a person wrote (a tracking number) are shown as written."""

from __future__ import annotations

from collections.abc import Callable

from payments import reasons
from translation import N_

# The notes store.orders and store.fulfilment write, and the sentence each reads as.
NOTES = {
    "buy limit": N_("Cancelled: more than the buy limit"),
    "hold expired": N_("Cancelled: not paid before its hold ran out"),
    "cancelled by the buyer": N_("Cancelled by the buyer"),
    "paid late": N_("Paid after its hold had run out"),
    "refunded": N_("The money went back to the buyer"),
    "confirmed by the buyer": N_("Received: confirmed by the buyer"),
    "confirmed by itself": N_("Received: confirmed by itself, some days after shipping"),
}
PAYMENT_FAILED = "payment failed: "  # followed by the provider's failure code


def read_note(note: str, gettext: Callable[[str], str]) -> str:
    """The sentence an event's `note` reads as, in the language of `gettext`."""
    if note in NOTES:
        return gettext(NOTES[note])
    if note.startswith(PAYMENT_FAILED):
        why = gettext(reasons.sentence(note.removeprefix(PAYMENT_FAILED)))
        return gettext(N_("The payment failed: %(why)s")) % {"why": why}
    return note
