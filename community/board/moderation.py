"""The member board's moderation: members' reports, and what admins do about them (hide,
lock, pin, delete, ban). The rules of posting are community.board.services."""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

import links
from accounts import notices
from accounts.models import User
from community.board.errors import (
    CannotBanAdmin,
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


async def resolve_reports(post_id: int) -> int:
    return await PostReport.filter(post_id=post_id, resolved=False).update(resolved=True)


async def moderate(post_id: int, action: str) -> Post:
    """hide / unhide / lock / unlock / pin / unpin a post (admins)."""
    flags = {
        "hide": ("hidden", True),
        "unhide": ("hidden", False),
        "lock": ("locked", True),
        "unlock": ("locked", False),
        "pin": ("pinned", True),
        "unpin": ("pinned", False),
    }
    if action not in flags:
        raise ValidationError("action", f"must be one of {', '.join(flags)}")
    post = await Post.get_or_none(id=post_id, deleted=False)
    if post is None:
        raise PostNotFound()
    field, value = flags[action]
    newly_hidden = action == "hide" and not post.hidden
    setattr(post, field, value)
    await post.save(update_fields=[field])
    if action == "hide":
        reasons = await PostReport.filter(post_id=post.id, resolved=False).values_list(
            "reason", flat=True
        )
        await resolve_reports(post.id)
        if newly_hidden:
            await _tell_author_hidden(post, [str(reason) for reason in reasons])
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


async def ban(user_id: int, *, days: int, reason: str, now: datetime) -> BoardBan:
    """Stop a member posting, replying and liking for `days` days (0 lifts a ban). Raises
    ValidationError (days), UserNotFound, CannotBanAdmin (an admin, the one banning included)."""
    if not 0 <= days <= 3650:
        raise ValidationError("days", "must be between 0 and 3650")
    target = await User.get_or_none(id=user_id).only("id", "is_admin")
    if target is None:
        raise UserNotFound()
    if target.is_admin and days > 0:  # lifting a ban (0 days) is always allowed
        raise CannotBanAdmin()
    until = now + timedelta(days=days)
    ban, _ = await BoardBan.update_or_create(
        user_id=user_id, defaults={"until": until, "reason": reason.strip()[:200]}
    )
    return ban
