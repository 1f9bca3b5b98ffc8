"""The member board's rules: who may read and write, posts, likes, mentions, edits with
history and abuse limits. Replies are community.board.replies; moderation (hide, lock, pin,
ban, reports) is community.board.moderation.

Plain async functions with no HTTP in them; community.board.api and community.board.routes
are thin layers over these. Search goes through community.search (kind "post"), the same
Chinese-aware service the feed uses.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

import links
from accounts import audit, notices, profiles
from accounts.models import User
from changes import BOARD, announce
from community import cursors, search
from community.board.errors import (
    NotTheAuthor,
    PostNotFound,
)
from community.board.models import (
    BoardCategory,
    Post,
    PostLike,
    PostRevision,
    Reply,
)
from community.board.permissions import banned_until as banned_until
from community.board.permissions import check_can_read as check_can_read
from community.board.permissions import check_can_write as check_can_write
from community.board.permissions import may_read as may_read
from community.board.permissions import may_write as may_write
from community.board.permissions import members_only_read as members_only_read
from community.board.permissions import moderates as moderates
from community.board.permissions import set_members_only_read as set_members_only_read
from community.board.permissions import why_may_not_write as why_may_not_write
from community.board.real_name import check_can_publish
from community.text import plain_text, render_markdown
from errors import DomainError, RateLimited, ValidationError
from ipregion import region_of
from moderation import review
from moderation import words as watched
from moderation.models import ReviewReason
from ratelimit import Counter, Limit, seconds_left

BUILT_IN_CATEGORIES = {
    "job": "招聘求职",
    "hiring": "招人",
    "knowledge": "知识分享",
    "question": "提问",
}
# A category's slug: what moderators may name one (add_category), so every category matches it.
CATEGORY_PATTERN = r"^[a-z][a-z0-9-]{1,29}$"
TITLE_MAX = 120
BODY_MAX = 20_000
REPLY_MAX = 5_000
REASON_MAX = 500
POSTS_PER_MEMBER = Limit(attempts=5, window_seconds=10 * 60)
REPLIES_PER_MEMBER = Limit(attempts=30, window_seconds=10 * 60)
MENTIONS_PER_TEXT = 10
PAGE_SIZE = 20
SEARCH_KIND = "post"


# ---------------------------------------------------------------------------------------------
# How often (who may do what: community.board.permissions)


async def rate_limit(counter: Counter, key: str, limit: Limit) -> None:
    """Count one more post or reply under `key`; raises RateLimited once `limit` is reached."""
    if await counter.count(key, limit) >= limit.attempts:
        raise RateLimited(seconds_left(limit), "You are posting too fast; wait a little.")
    await counter.hit(key, limit)


# ---------------------------------------------------------------------------------------------
# Categories


async def categories() -> dict[str, str]:
    """slug -> name, built-in ones first."""
    extra = await BoardCategory.all().order_by("id").values_list("slug", "name")
    return {**BUILT_IN_CATEGORIES, **{slug: name for slug, name in extra}}


async def add_category(
    slug: str, name: str, *, actor: User | None, now: datetime | None = None
) -> BoardCategory:
    """A new category (moderators), with an audit entry ("board_category.create"). Raises
    ValidationError (slug, name; a slug already taken)."""
    slug = slug.strip().lower()
    if not re.fullmatch(CATEGORY_PATTERN, slug):
        raise ValidationError("slug", "must be 2-30 lowercase letters, digits or dashes")
    if not name.strip() or len(name.strip()) > 30:
        raise ValidationError("name", "must be 1-30 characters")
    if slug in await categories():
        raise ValidationError("slug", "is already a category")
    try:
        async with in_transaction():
            category = await BoardCategory.create(slug=slug, name=name.strip())
            await audit.record(
                actor=actor,
                action="board_category.create",
                object_type="board_category",
                object_id=category.id,
                after={"slug": category.slug, "name": category.name},
                now=now,
            )
    except IntegrityError:  # the same slug added at the same moment by another moderator
        raise ValidationError("slug", "is already a category") from None
    return category


async def _check_category(category: str) -> str:
    if category not in await categories():
        raise ValidationError("category", "must be one of the board's categories")
    return category


def _check_title_body(title: str, body: str) -> tuple[str, str]:
    title = title.strip()
    if not title:
        raise ValidationError("title", "is required")
    if len(title) > TITLE_MAX:
        raise ValidationError("title", f"must be at most {TITLE_MAX} characters")
    if not body.strip():
        raise ValidationError("body", "is required")
    if len(body) > BODY_MAX:
        raise ValidationError("body", f"must be at most {BODY_MAX:,} characters")
    return title, body


def dedupe_key(author: User, token: str | None, *parts: str) -> str:
    """What makes a submission the same one again: its token (Idempotency-Key, the form's
    submission id), or else its text."""
    if token:
        marker = "t" + hashlib.sha256(token.encode()).hexdigest()[:40]
    else:
        marker = "c" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]
    return f"{author.id}:{marker}"


# ---------------------------------------------------------------------------------------------
# Mentions and notifications


def markdown_html(body: str) -> str:
    """A post's or reply's Markdown as safe HTML, its @mentions linking to profiles."""
    return render_markdown(profiles.link_mentions(body))


async def _mentioned(text: str, *, exclude: set[int]) -> list[User]:
    names = list(dict.fromkeys(profiles.MENTION.findall(text)))[:MENTIONS_PER_TEXT]
    if not names:
        return []
    users = await User.filter(display_name__in=names)
    return [user for user in users if user.id not in exclude]


async def notify_mentions(text: str, author: User, post: Post, *, skip: set[int]) -> None:
    """Tell those @mentioned in `text` (not the author, not `skip`) who may read the board."""
    now = datetime.now(UTC)
    for user in await _mentioned(text, exclude={author.id, *skip}):
        try:
            await check_can_read(user, now)
        except DomainError:
            continue  # a members-only board: its titles are not told to those who cannot read
        await notices.notify(
            user.id,
            kind="mention",
            params={"author": author.display_name, "title": post.title},
            link=links.path("board.post_page", id=post.id),
        )


# ---------------------------------------------------------------------------------------------
# Posts


async def create_post(
    *,
    author: User,
    category: str,
    title: str,
    body: str,
    counter: Counter,
    now: datetime,
    token: str | None = None,
    address: str | None = None,
    mobile_required: bool = False,
) -> tuple[Post, bool]:
    """A new post, or the one this same submission already made (double click, retry).
    Returns (post, created). The watched words first (moderation.words.screen): a blocked
    word refuses it (BlockedWords), a censored one is kept as ■■, a word that requires
    approval holds it for review (pending_review: shown to its author and the moderators
    only; mentions are told once it is approved), a flag word queues it for a look. The
    writing request's `address` is kept only as the post's IP属地 (ipregion.region_of), which
    becomes the author's too (accounts.profiles.wrote_from). `mobile_required`: the real-name
    rule is on (community.board.real_name). Raises BoardMembersOnly, Banned, MobileRequired,
    ValidationError, BlockedWords, RateLimited."""
    await check_can_publish(author, now, mobile_required=mobile_required)
    category = await _check_category(category)
    title, body = _check_title_body(title, body)
    screened = await watched.screen(title=title, body=body)
    title, body = screened.texts["title"], screened.texts["body"]
    key = dedupe_key(author, token, category, title, body)
    existing = await Post.get_or_none(dedupe_key=key)
    if existing is not None:
        return existing, False
    await rate_limit(counter, f"board:post:{author.id}", POSTS_PER_MEMBER)
    try:
        async with in_transaction():
            post = await Post.create(
                author=author,
                category=category,
                title=title,
                body=body,
                body_html=markdown_html(body),
                last_activity_at=now,
                dedupe_key=key,
                hidden=screened.held,
                pending_review=screened.held,
                ip_region=region_of(address) if address else None,
            )
            await _to_review(post.id, author.id, screened, f"{title}\n{body}", now, screened.held)
    except IntegrityError:  # the twin request won the race: answer with its post
        return await Post.get(dedupe_key=key), False
    await profiles.wrote_from(author, post.ip_region)
    await _index(post)
    if not screened.held:
        await notify_mentions(body, author, post, skip=set())
    return post, True


async def _to_review(
    post_id: int, author_id: int, screened: watched.Screened, text: str, now: datetime,
    held: bool,
) -> None:  # fmt: skip
    """Queue a post the watched words held (`held`: it waits, hidden) or flagged (it is shown,
    or hidden for another reason: a moderator's, which the queue does not undo)."""
    if screened.held or screened.flagged:
        await review.hold(
            "post",
            post_id,
            author_id=author_id,
            reason=ReviewReason.HELD if held else ReviewReason.FLAGGED,
            words=screened.review_words,
            text=text,
            now=now,
        )


async def _index(post: Post) -> None:
    await search.index_document(SEARCH_KIND, post.id, f"{post.title}\n{plain_text(post.body_html)}")


async def reindex_post(post_id: int) -> None:
    """Index one post again after its text changed outside an edit (privacy.erasure replaces a
    departed person's name in it)."""
    post = await Post.get_or_none(id=post_id, deleted=False)
    if post is not None:
        await _index(post)


async def reindex_all() -> int:
    """Index every post that is not deleted again (after the index's rules changed)."""
    posts = await Post.filter(deleted=False)
    for post in posts:
        await _index(post)
    return len(posts)


async def get_post(post_id: int, *, viewer: User, now: datetime) -> Post:
    """A post the viewer may read; hidden and deleted posts are 404, except hidden ones for
    moderators and for their author (who was told why it was hidden)."""
    await check_can_read(viewer, now)
    post = await Post.get_or_none(id=post_id, deleted=False).select_related("author")
    if post is None or (post.hidden and not moderates(viewer) and post.author_id != viewer.id):  # type: ignore[attr-defined]
        raise PostNotFound()
    return post


async def check_can_edit(
    post_id: int, *, editor: User, now: datetime, mobile_required: bool = False
) -> Post:
    """The guard of an edit, before its text is read: the post as the editor may see it
    (PostNotFound, BoardMembersOnly), written by them (NotTheAuthor), and they may publish
    (BoardMembersOnly, Banned, MobileRequired: an edit publishes new text too)."""
    post = await get_post(post_id, viewer=editor, now=now)
    if post.author_id != editor.id:  # type: ignore[attr-defined]
        raise NotTheAuthor()
    await check_can_publish(editor, now, mobile_required=mobile_required)
    return post


async def edit_post(
    post_id: int,
    *,
    editor: User,
    title: str,
    body: str,
    category: str | None,
    now: datetime,
    mobile_required: bool = False,
) -> Post:
    """The author edits; the text before the edit is kept as a revision, and the IP属地 is the
    one the post was written from. The watched words as for a new post: an edit with a word
    that requires approval holds the post again (a post a moderator hid stays hidden, and is
    only queued). Raises what check_can_edit raises, then ValidationError, BlockedWords."""
    post = await check_can_edit(post_id, editor=editor, now=now, mobile_required=mobile_required)
    title, body = _check_title_body(title, body)
    screened = await watched.screen(title=title, body=body)
    title, body = screened.texts["title"], screened.texts["body"]
    if category is not None:
        post.category = await _check_category(category)
    async with in_transaction():
        await PostRevision.create(
            post=post,
            title=post.title,
            body=post.body,
            written_at=post.edited_at or post.created_at,
        )
        post.title, post.body, post.body_html = title, body, markdown_html(body)
        post.edited_at = now
        if screened.held and (post.pending_review or not post.hidden):
            post.hidden = post.pending_review = True
        await post.save()
        text = f"{title}\n{body}"
        await _to_review(post.id, editor.id, screened, text, now, post.pending_review)
    await _index(post)
    return post


# ---------------------------------------------------------------------------------------------
# The review queue's decisions on posts (moderation.review.Reviewable "post")


async def approve_held_post(post_id: int, now: datetime) -> bool:
    """A held post is published (a post only flagged, hidden by a moderator meanwhile, or
    deleted stays as it is); its mentions are told. Returns whether it was published."""
    published = await Post.filter(
        id=post_id, pending_review=True, hidden=True, deleted=False
    ).update(hidden=False, pending_review=False)
    if published:
        await announce(BOARD)  # shown now: every worker's liveliest threads are read again
        post = await Post.get(id=post_id).select_related("author")
        await notify_mentions(post.body, post.author, post, skip=set())
    return bool(published)


async def reject_post(post_id: int, now: datetime) -> bool:
    """A rejected post is hidden (its author still reads it, and the reason)."""
    await Post.filter(id=post_id).update(hidden=True, pending_review=False)
    await announce(BOARD)  # gone from every worker's liveliest threads at once
    return True


async def delete_post(post_id: int, *, user: User, now: datetime) -> None:
    """Authors delete their own posts (moderators anyone's, an audit entry "post.delete"):
    gone from every list and page. Raises PostNotFound, BoardMembersOnly, NotTheAuthor."""
    post = await get_post(post_id, viewer=user, now=now)
    by_author = post.author_id == user.id  # type: ignore[attr-defined]
    if not by_author and not moderates(user):
        raise NotTheAuthor()
    async with in_transaction():
        await Post.filter(id=post.id).update(deleted=True, dedupe_key=None)
        if not by_author:
            await audit.record(
                actor=user,
                action="post.delete",
                object_type="post",
                object_id=post.id,
                before={"deleted": False, "title": post.title},
                after={"deleted": True},
                now=now,
            )
    await search.remove_document(SEARCH_KIND, post.id)
    await announce(BOARD)  # gone from every worker's liveliest threads at once


async def revisions(post: Post) -> list[PostRevision]:
    return await PostRevision.filter(post_id=post.id).order_by("id")


@dataclass(frozen=True)
class PostPage:
    posts: list[Post]
    next_cursor: str | None


async def newest_posts(
    *,
    viewer: User,
    now: datetime,
    category: str | None = None,
    query: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> PostPage:
    """Newest first, by category or matching a Chinese-aware search; pinned posts head the
    first page (not a search's). Continues from a moment cursor; an offset cursor (kept from
    the active listing) starts from the top. Raises BoardMembersOnly, ValidationError (cursor)."""
    visible = await _visible_posts(viewer=viewer, now=now, category=category, query=query)
    after = _moment_from(cursor)
    if after is not None:
        at, post_id = after
        visible = visible.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=post_id))
    pinned: list[Post] = []
    if not _searching(query):  # pinned posts head the first page, unless searching
        if after is None:
            pinned = await visible.filter(pinned=True).select_related("author").order_by("-id")
        visible = visible.filter(pinned=False)
    rows = await visible.select_related("author").order_by("-created_at", "-id").limit(limit + 1)
    page = rows[:limit]
    next_cursor = (
        cursors.moment_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    )
    return PostPage([*pinned, *page], next_cursor)


async def active_posts(
    *,
    viewer: User,
    now: datetime,
    category: str | None = None,
    query: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> PostPage:
    """Most active first: the most replies shown in the last 7 days (ties: the newer post), by
    category or matching a search; posts without such replies are not listed. Continues from an
    offset cursor; a moment cursor (kept from the newest listing) starts from the top. Raises
    BoardMembersOnly, ValidationError (cursor)."""
    visible = await _visible_posts(viewer=viewer, now=now, category=category, query=query)
    offset = _offset_from(cursor)
    active = (
        await Reply.filter(created_at__gte=now - timedelta(days=7), hidden=False)
        .annotate(n=Count("id"))
        .group_by("post_id")
        .order_by("-n", "-post_id")
        .values_list("post_id", "n")
    )
    ranked = [post_id for post_id, _ in active]
    posts_by_id = {p.id: p for p in await visible.filter(id__in=ranked).select_related("author")}
    ordered = [posts_by_id[i] for i in ranked if i in posts_by_id]
    more = len(ordered) > offset + limit
    return PostPage(
        ordered[offset : offset + limit], cursors.offset_cursor(offset + limit) if more else None
    )


def _searching(query: str | None) -> bool:
    return bool(query and query.strip())


async def _visible_posts(
    *, viewer: User, now: datetime, category: str | None, query: str | None
) -> QuerySet[Post]:
    """The posts the viewer may see in a listing: not deleted, not hidden (but for
    moderators), in the category and matching the search when given. Raises BoardMembersOnly."""
    await check_can_read(viewer, now)
    visible = Post.filter(deleted=False)
    if not moderates(viewer):
        visible = visible.filter(hidden=False)
    if category:  # a category that does not exist (any more) lists nothing
        visible = visible.filter(category=category)
    if _searching(query):
        ids = await search.search(SEARCH_KIND, query or "")
        visible = visible.filter(id__in=list(ids) or [0])
    return visible


# Each listing gives out its own kind of cursor; one of the other kind (a link kept from the
# other listing) starts this one from the top. Anything else is refused.


def _moment_from(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor or cursors.is_offset_cursor(cursor):
        return None
    return cursors.read_moment_cursor(cursor)


def _offset_from(cursor: str | None) -> int:
    if not cursor:
        return 0
    if cursors.is_offset_cursor(cursor):
        return cursors.read_offset_cursor(cursor)
    cursors.read_moment_cursor(cursor)  # refused unless it is a moment cursor
    return 0


# ---------------------------------------------------------------------------------------------
# Likes (replies are community.board.replies)


async def like(post_id: int, *, user: User, now: datetime, liked: bool = True) -> Post:
    """Like (once per person) or unlike a post; returns it with its new count."""
    post = await get_post(post_id, viewer=user, now=now)
    await check_can_write(user, now)
    if liked:
        with contextlib.suppress(IntegrityError):  # liking twice counts once
            await PostLike.create(post=post, user=user)
    else:
        await PostLike.filter(post_id=post.id, user_id=user.id).delete()
    post.like_count = await PostLike.filter(post_id=post.id).count()
    await Post.filter(id=post.id).update(like_count=post.like_count)
    return post


async def has_liked(post: Post, user: User) -> bool:
    return await PostLike.filter(post_id=post.id, user_id=user.id).exists()
