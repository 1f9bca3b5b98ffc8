"""Replies in a post's thread: who may reply, the limits, and who is told (the post's author
and anyone @mentioned). The rules of posting are community.board.services."""

from __future__ import annotations

from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

import links
from accounts import notices, profiles
from accounts.models import User
from community.board.errors import Locked
from community.board.models import Post, Reply
from community.board.real_name import check_can_publish
from community.board.services import (
    REPLIES_PER_MEMBER,
    REPLY_MAX,
    dedupe_key,
    get_post,
    markdown_html,
    moderates,
    notify_mentions,
    rate_limit,
)
from errors import ValidationError
from ipregion import region_of
from moderation import review
from moderation import words as watched
from moderation.models import ReviewReason
from ratelimit import Counter


async def reply(
    post_id: int,
    *,
    author: User,
    body: str,
    counter: Counter,
    now: datetime,
    token: str | None = None,
    address: str | None = None,
    mobile_required: bool = False,
) -> tuple[Reply, bool]:
    """A reply in the post's thread, or the one this same submission already made (returns
    (reply, created)); the post's author and anyone @mentioned are notified. The watched
    words as for a post: a held reply is shown to its author and the moderators only, and
    counted and told once approved. `address` and `mobile_required` as for a post
    (services.create_post). Raises BoardMembersOnly, PostNotFound, Banned, MobileRequired,
    Locked, ValidationError (body), BlockedWords, RateLimited."""
    post = await get_post(post_id, viewer=author, now=now)
    await check_can_publish(author, now, mobile_required=mobile_required)
    if post.locked or post.hidden:  # a hidden post, which its author still sees, takes none
        raise Locked()
    if not body.strip():
        raise ValidationError("body", "is required")
    if len(body) > REPLY_MAX:
        raise ValidationError("body", f"must be at most {REPLY_MAX:,} characters")
    screened = await watched.screen(body=body)
    body = screened.texts["body"]
    key = dedupe_key(author, token, str(post.id), body)
    existing = await Reply.get_or_none(dedupe_key=key)
    if existing is not None:
        return existing, False
    await rate_limit(counter, f"board:reply:{author.id}", REPLIES_PER_MEMBER)
    try:
        async with in_transaction():
            created = await Reply.create(
                post=post,
                author=author,
                body=body,
                body_html=markdown_html(body),
                dedupe_key=key,
                hidden=screened.held,
                pending_review=screened.held,
                ip_region=region_of(address) if address else None,
            )
            if screened.held or screened.flagged:
                await review.hold(
                    "reply",
                    created.id,
                    author_id=author.id,
                    reason=ReviewReason.HELD if screened.held else ReviewReason.FLAGGED,
                    words=screened.review_words,
                    text=body,
                    now=now,
                )
            if not screened.held:
                await Post.filter(id=post.id).update(
                    reply_count=F("reply_count") + 1, last_activity_at=now
                )
    except IntegrityError:
        return await Reply.get(dedupe_key=key), False
    await profiles.wrote_from(author, created.ip_region)
    if not screened.held:
        await _tell(post, author, created)
    return created, True


async def _tell(post: Post, author: User, created: Reply) -> None:
    """The post's author and anyone @mentioned in a reply shown to all."""
    body = created.body
    if post.author.id != author.id:
        await notices.notify(
            post.author.id,
            kind="reply",
            params={"author": author.display_name, "title": post.title},
            link=links.path("board.post_page", id=post.id) + f"#reply-{created.id}",
        )
    await notify_mentions(body, author, post, skip={post.author.id})


async def thread(post: Post, *, viewer: User) -> list[Reply]:
    """The post's replies, oldest first; hidden ones only for moderators, and one's own held
    for review (marked so) for their author."""
    query = Reply.filter(post_id=post.id)
    if not moderates(viewer):
        query = query.filter(Q(hidden=False) | Q(pending_review=True, author_id=viewer.id))
    return await query.select_related("author").order_by("id")


async def approve_held_reply(reply_id: int, now: datetime) -> bool:
    """A held reply is shown, counted in its thread, and told (a reply only flagged stays).
    Returns whether it was shown."""
    if not await Reply.filter(id=reply_id, pending_review=True, hidden=True).update(
        hidden=False, pending_review=False
    ):
        return False
    shown = await Reply.get(id=reply_id).select_related("author", "post", "post__author")
    await Post.filter(id=shown.post.id).update(
        reply_count=F("reply_count") + 1, last_activity_at=now
    )
    await _tell(shown.post, shown.author, shown)
    return True


async def reject_reply(reply_id: int, now: datetime) -> bool:
    """A rejected reply is hidden (a shown one leaves its thread's count)."""
    was_shown = await Reply.filter(id=reply_id, hidden=False).update(hidden=True)
    await Reply.filter(id=reply_id).update(hidden=True, pending_review=False)
    if was_shown:
        reply = await Reply.get(id=reply_id)
        await Post.filter(id=reply.post_id, reply_count__gt=0).update(  # type: ignore[attr-defined]
            reply_count=F("reply_count") - 1
        )
    return True
