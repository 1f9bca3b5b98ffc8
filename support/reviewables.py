"""What the review queue holds of customer service (moderation.review.Reviewable "message"):
members' messages with a word that requires approval or a flag word. Registered by the
composition root.

A message is delivered whatever its words (bar a blocked one): the staff are its only
readers, and an unanswered question must not wait for a moderator. So an item is always
"flagged", and a decision changes no message: approving it changes nothing and tells nobody;
rejecting it hides nothing (the thread is the record between the member and the staff, and
the staff still answer what was asked) but is in the audit log ("review.reject") and tells
the member, with the moderator's reason ("message_rejected").
"""

from __future__ import annotations

from datetime import datetime

import links
from moderation import review
from moderation import words as watched
from moderation.models import ReviewReason
from moderation.review import Reviewable, Reviewables
from support.models import Message
from support.notices import MESSAGE_REJECTED
from translation import N_

KIND = "message"


async def queue(message: Message, screened: watched.Screened, now: datetime) -> None:
    """A member's message with words that hold or flag it: queued for a look, as flagged
    (it is delivered all the same). In the message's transaction."""
    if screened.held or screened.flagged:
        await review.hold(
            KIND,
            message.id,
            author_id=message.author_id,  # type: ignore[attr-defined]
            reason=ReviewReason.FLAGGED,
            words=screened.review_words,
            text=message.body,
            now=now,
        )


async def _unchanged(message_id: int, now: datetime) -> bool:
    """A decision on a message changes no message (the module's docstring)."""
    return False


async def _link(message_id: int) -> str | None:
    """The conversation's page, as its member reads it (where they are told to look)."""
    message = await Message.get_or_none(id=message_id)
    if message is None:
        return None
    return links.path("support.conversation_page", id=message.conversation_id)  # type: ignore[attr-defined]


def register(reviewables: Reviewables) -> None:
    reviewables.register(
        KIND,
        Reviewable(
            N_("Message to customer service"),
            _unchanged,
            _unchanged,
            _link,
            rejected=MESSAGE_REJECTED,
            capability="conversations",  # what a member wrote to the staff stays with them
        ),
    )
