"""What the review queue holds of the board (moderation.review.Reviewable): posts and replies
that watched words held or flagged. Registered by the composition root."""

from __future__ import annotations

import links
from community.board import replies, services
from community.board.models import Reply
from moderation.review import Reviewable, Reviewables
from translation import N_


async def _post_link(post_id: int) -> str | None:
    return links.path("board.post_page", id=post_id)


async def _reply_link(reply_id: int) -> str | None:
    reply = await Reply.get_or_none(id=reply_id)
    if reply is None:
        return None
    return links.path("board.post_page", id=reply.post_id) + f"#reply-{reply_id}"  # type: ignore[attr-defined]


def register(reviewables: Reviewables) -> None:
    reviewables.register(
        "post",
        Reviewable(N_("Post"), services.approve_held_post, services.reject_post, _post_link),
    )
    reviewables.register(
        "reply",
        Reviewable(N_("Reply"), replies.approve_held_reply, replies.reject_reply, _reply_link),
    )
