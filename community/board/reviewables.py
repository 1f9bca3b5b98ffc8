"""What moderation holds and hears of the board: posts and replies that watched words held or
flagged (moderation.review.Reviewable), and posts and replies members report
(moderation.reports.Reportable). Registered by the composition root."""

from __future__ import annotations

from datetime import UTC, datetime

import links
from accounts import notices
from accounts.models import User
from community.board import moderation, replies, services
from community.board.errors import PostNotFound
from community.board.models import Post, Reply
from community.text import plain_text
from moderation import review
from moderation.reports import Reportable, Reportables, Shown
from moderation.review import Reviewable, Reviewables
from translation import N_

EXCERPT = 120


async def _post_link(post_id: int) -> str | None:
    return links.path("board.post_page", id=post_id)


async def _reply_link(reply_id: int) -> str | None:
    reply = await Reply.get_or_none(id=reply_id)
    if reply is None:
        return None
    return links.path("board.post_page", id=reply.post_id) + f"#reply-{reply_id}"  # type: ignore[attr-defined]


async def _find_post(post_id: int, reporter: User | None) -> Shown:
    """A post as its reporter may see it and report it (they may write on the board), or as
    the moderators see it (reporter None: any post not deleted)."""
    if reporter is None:
        post = await Post.get_or_none(id=post_id, deleted=False)
        if post is None:
            raise PostNotFound()
    else:
        now = datetime.now(UTC)
        post = await services.get_post(post_id, viewer=reporter, now=now)
        await services.check_can_write(reporter, now)
    return Shown(post.title, links.path("board.post_page", id=post.id), post.author_id)  # type: ignore[attr-defined]


async def _hide_post(post_id: int, actor: User, now: datetime, note: str) -> None:
    """Hidden as the board's hide button hides (its author told, with the reports' reasons)."""
    await moderation.moderate(post_id, "hide", actor=actor, now=now)


async def _find_reply(reply_id: int, reporter: User | None) -> Shown:
    """A reply shown in a post the reporter may read (and they may write), or any reply for
    the moderators."""
    reply = await Reply.get_or_none(id=reply_id)
    if reply is None or (reporter is not None and reply.hidden):
        raise PostNotFound("No such reply.")
    if reporter is not None:
        now = datetime.now(UTC)
        await services.get_post(reply.post_id, viewer=reporter, now=now)  # type: ignore[attr-defined]
        await services.check_can_write(reporter, now)
    text = plain_text(reply.body_html)
    return Shown(
        text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…",
        await _reply_link(reply.id),
        reply.author_id,  # type: ignore[attr-defined]
    )


async def _hide_reply(reply_id: int, actor: User, now: datetime, note: str) -> None:
    """Hidden, and its author told (as of a held reply not published), with the note."""
    reply = await Reply.get_or_none(id=reply_id)
    await replies.reject_reply(reply_id, now)
    await review.settle("reply", reply_id, approved=False, actor=actor, now=now)
    if reply is not None:
        text = plain_text(reply.body_html)
        await notices.notify(
            reply.author_id,  # type: ignore[attr-defined]
            kind="review_rejected",
            params={"excerpt": text[:60], "note": note},
            link=await _reply_link(reply_id),
            now=now,
        )


def register(reviewables: Reviewables, reportables: Reportables) -> None:
    reviewables.register(
        "post",
        Reviewable(N_("Post"), services.approve_held_post, services.reject_post, _post_link),
    )
    reviewables.register(
        "reply",
        Reviewable(N_("Reply"), replies.approve_held_reply, replies.reject_reply, _reply_link),
    )
    reportables.register("post", Reportable(N_("Post"), _find_post, _hide_post))
    reportables.register("reply", Reportable(N_("Reply"), _find_reply, _hide_reply))
