"""The member board's moderation: members' reports, and what moderators do about them (hide,
lock, pin, resolve reports, ban). Every moderator's action is an audit entry, written in the
action's transaction. The rules of posting are community.board.services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

import links
from accounts import audit, notices
from accounts.models import User
from changes import BOARD, announce
from community.board.errors import (
    CannotBanStaff,
    PostNotFound,
    UserNotFound,
)
from community.board.models import BoardBan, Post
from community.board.services import REASON_MAX, check_can_write, get_post
from errors import ValidationError
from moderation import reports, review
from moderation.models import Report, ReportStatus
from ratelimit import Counter

# action -> (the post's flag, its value after); each is the audit action "post.<action>".
FLAGS = {
    "hide": ("hidden", True),
    "unhide": ("hidden", False),
    "lock": ("locked", True),
    "unlock": ("locked", False),
    "pin": ("pinned", True),
    "unpin": ("pinned", False),
}
BAN_DAYS_MAX = 3650


async def report(
    post_id: int,
    *,
    reporter: User,
    reason: str,
    now: datetime,
    counter: Counter | None = None,
) -> Report:
    """A member reports a post with a reason; once per person per post (moderation.reports:
    the reports of every kind of thing, answered to the reporter; `counter` counts them)."""
    post = await get_post(post_id, viewer=reporter, now=now)
    await check_can_write(reporter, now)
    if len(reason.strip()) > REASON_MAX:
        raise ValidationError("reason", f"must be at most {REASON_MAX} characters")
    return await reports.report(
        "post", post.id, reporter=reporter, reason=reason, now=now, counter=counter
    )


@dataclass(frozen=True)
class PostReport:
    """An open report of a post, as the board's console section and API show it."""

    id: int
    post: Post
    reporter: User
    reason: str
    created_at: datetime


async def open_reports() -> list[PostReport]:
    """The open reports of posts not deleted, oldest first."""
    found = await reports.open_reports_of_kind("post")
    posts = {p.id: p for p in await Post.filter(id__in=[r.object_id for r in found], deleted=False)}
    return [
        PostReport(r.id, posts[r.object_id], r.reporter, r.reason, r.created_at)
        for r in found
        if r.object_id in posts
    ]


async def hidden_posts(limit: int = 100) -> list[Post]:
    """Posts moderators hid (not deleted), the latest first."""
    return (
        await Post.filter(hidden=True, deleted=False)
        .select_related("author")
        .order_by("-id")
        .limit(limit)
    )


async def _resolve_reports(
    post: Post, *, outcome: str, actor: User | None, now: datetime
) -> list[str]:
    """Close the post's open reports (inside the caller's transaction; each reporter is
    told: moderation.reports.close), with one audit entry ("post.resolve_reports") when there
    were any; returns their reasons."""
    closed = await reports.close(
        "post",
        post.id,
        outcome=ReportStatus.TAKEN_DOWN if outcome == "hidden" else ReportStatus.DISMISSED,
        actor=actor,
        now=now,
        excerpt=post.title,
    )
    if not closed:
        return []
    await audit.record(
        actor=actor,
        action="post.resolve_reports",
        object_type="post",
        object_id=post.id,
        before={"open_reports": [r.id for r in closed]},
        after={"open_reports": [], "outcome": outcome},
        now=now,
    )
    return [r.reason for r in closed]


async def moderate(post_id: int, action: str, *, actor: User | None, now: datetime) -> Post:
    """hide / unhide / lock / unlock / pin / unpin a post (moderators). A change of the flag
    is an audit entry ("post.hide", ...). Hiding or showing a post answers its open reports
    (they are resolved: "hidden", or "dismissed"); an author whose post is newly hidden is
    told why. Raises ValidationError (action), PostNotFound."""
    if action not in FLAGS:
        raise ValidationError("action", f"must be one of {', '.join(FLAGS)}")
    field, value = FLAGS[action]
    async with in_transaction():
        post = await Post.filter(id=post_id, deleted=False).select_for_update().first()
        if post is None:
            raise PostNotFound()
        was = getattr(post, field)
        # A post held for review and hidden or shown by a moderator's own hand: that decides
        # its review too (shown: approved; hidden: rejected), so the queue cannot undo it.
        was_held = post.pending_review and action in ("hide", "unhide")
        if was_held:
            post.pending_review = False
            await post.save(update_fields=["pending_review"])
            await review.settle("post", post.id, approved=action == "unhide", actor=actor, now=now)
        if was != value:
            setattr(post, field, value)
            await post.save(update_fields=[field])
            await audit.record(
                actor=actor,
                action=f"post.{action}",
                object_type="post",
                object_id=post.id,
                before={field: was},
                after={field: value},
                now=now,
            )
        reasons: list[str] = []
        if action in ("hide", "unhide"):
            outcome = "hidden" if action == "hide" else "dismissed"
            reasons = await _resolve_reports(post, outcome=outcome, actor=actor, now=now)
    if action in ("hide", "unhide") and (was != value or was_held):
        await announce(BOARD)  # taken from (or back on) every worker's liveliest threads
    if action == "hide" and (not was or was_held):
        await _tell_author_hidden(post, reasons)
    return post


async def _tell_author_hidden(post: Post, reasons: list[str]) -> None:
    """The author learns (inbox) that their post was hidden and why: what members reported,
    when it was reported; and that they can still read it."""
    link = links.path("board.post_page", id=post.id)
    author_id: int = post.author_id  # type: ignore[attr-defined]
    if reasons:  # each reason once, in the order they came (notify shortens a long text)
        why = "；".join(dict.fromkeys(reason.strip() for reason in reasons))
        params = {"title": post.title, "reasons": why}
        await notices.notify(author_id, kind="post_hidden", params=params, link=link)
    else:
        params = {"title": post.title}
        await notices.notify(author_id, kind="post_hidden_by_moderator", params=params, link=link)


async def ban(
    user_id: int, *, days: int, reason: str, now: datetime, actor: User | None
) -> BoardBan:
    """Stop a member posting, replying and liking for `days` days (0 lifts a ban), with an
    audit entry ("user.ban", or "user.unban" for 0 days: the ban before and after). Raises
    ValidationError (days), UserNotFound, CannotBanStaff (anyone with a staff role, the one
    banning included; lifting is always allowed)."""
    if not 0 <= days <= BAN_DAYS_MAX:
        raise ValidationError("days", f"must be between 0 and {BAN_DAYS_MAX}")
    target = await User.get_or_none(id=user_id)
    if target is None:
        raise UserNotFound()
    if target.is_staff and days > 0:
        raise CannotBanStaff()
    until = now + timedelta(days=days)
    reason = reason.strip()[:200]
    async with in_transaction():
        earlier = await BoardBan.filter(user_id=user_id).select_for_update().first()
        still_on = earlier is not None and earlier.until > now
        ban, _ = await BoardBan.update_or_create(
            user_id=user_id, defaults={"until": until, "reason": reason}
        )
        await audit.record(
            actor=actor,
            action="user.ban" if days > 0 else "user.unban",
            object_type="user",
            object_id=user_id,
            before={
                "banned_until": earlier.until if earlier is not None and still_on else None,
                "reason": earlier.reason if earlier is not None and still_on else None,
            },
            after={
                "days": days,
                "banned_until": until if days > 0 else None,
                "reason": reason if days > 0 else None,
            },
            now=now,
        )
    return ban


async def current_bans(now: datetime) -> list[BoardBan]:
    """Bans still running at `now`, the soonest to end first, with the people banned."""
    return await BoardBan.filter(until__gt=now).select_related("user").order_by("until", "id")


async def bans_of(user_ids: list[int], now: datetime) -> dict[int, BoardBan]:
    """The running bans of these people, by their id."""
    if not user_ids:
        return {}
    found = await BoardBan.filter(user_id__in=user_ids, until__gt=now)
    return {ban.user_id: ban for ban in found}  # type: ignore[attr-defined]
