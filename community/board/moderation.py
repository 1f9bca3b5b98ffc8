"""The member board's moderation: members' reports, and what moderators do about them (hide,
lock, pin, resolve reports, ban). Every moderator's action is an audit entry, written in the
action's transaction. The rules of posting are community.board.services."""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import links
from accounts import audit, notices
from accounts.models import User
from community.board.errors import (
    CannotBanStaff,
    PostNotFound,
    UserNotFound,
)
from community.board.models import (
    BoardBan,
    Post,
    PostReport,
)
from community.board.services import REASON_MAX, check_can_write, get_post
from errors import ValidationError

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


async def report(post_id: int, *, reporter: User, reason: str, now: datetime) -> PostReport:
    """A member reports a post with a reason; once per person per post."""
    post = await get_post(post_id, viewer=reporter, now=now)
    await check_can_write(reporter, now)
    reason = reason.strip()
    if not reason:
        raise ValidationError("reason", "is required")
    if len(reason) > REASON_MAX:
        raise ValidationError("reason", f"must be at most {REASON_MAX} characters")
    existing = await PostReport.get_or_none(post_id=post.id, reporter_id=reporter.id)
    if existing is not None:
        return existing
    try:
        return await PostReport.create(post=post, reporter=reporter, reason=reason)
    except IntegrityError:
        return await PostReport.get(post_id=post.id, reporter_id=reporter.id)


async def open_reports() -> list[PostReport]:
    return (
        await PostReport.filter(resolved=False, post__deleted=False)
        .select_related("post", "reporter")
        .order_by("id")
    )


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
    """Close the post's open reports (inside the caller's transaction), with one audit entry
    ("post.resolve_reports") when there were any; returns their reasons."""
    reports = await PostReport.filter(post_id=post.id, resolved=False).order_by("id")
    if not reports:
        return []
    await PostReport.filter(id__in=[r.id for r in reports]).update(resolved=True)
    await audit.record(
        actor=actor,
        action="post.resolve_reports",
        object_type="post",
        object_id=post.id,
        before={"open_reports": [r.id for r in reports]},
        after={"open_reports": [], "outcome": outcome},
        now=now,
    )
    return [r.reason for r in reports]


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
    if action == "hide" and not was:
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
