"""Writing the daily feed: the admin's items, their keywords, audio and search index; publishing,
unpublishing and scheduling. What readers see is community.feed.services. No HTTP in here."""

from __future__ import annotations

from datetime import datetime
from hashlib import sha256
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from changes import FEED, announce
from community import search
from community.feed.audio import CheckedAudio, delete_audio, store_audio
from community.feed.errors import ItemNotFound, KeywordTaken
from community.feed.memory import FeedMemory
from community.feed.models import FeedItem
from community.feed.services import KEYWORD_MAX, PUBLIC_SEARCH_KIND, SEARCH_KIND
from community.text import normalise_keyword, plain_text, render_markdown, teaser_of
from errors import ValidationError


def _check_text(title: str, body: str, keyword: str) -> tuple[str, str, str]:
    title = title.strip()
    if not title:
        raise ValidationError("title", "is required")
    if len(title) > 120:
        raise ValidationError("title", "must be at most 120 characters")
    if not body.strip():
        raise ValidationError("body", "is required")
    if len(body) > 50_000:
        raise ValidationError("body", "must be at most 50,000 characters")
    key = normalise_keyword(keyword)
    if not key:
        raise ValidationError("keyword", "must contain a letter, digit or character")
    if len(keyword.strip()) > KEYWORD_MAX or len(key) > KEYWORD_MAX:
        raise ValidationError("keyword", f"must be at most {KEYWORD_MAX} characters")
    return title, body, key


async def _keyword_free(key: str, *, except_id: int | None = None) -> None:
    clash = FeedItem.filter(live_keyword=key)
    if except_id is not None:
        clash = clash.exclude(id=except_id)
    other = await clash.first().values("id", "title")
    if other:
        raise KeywordTaken(
            f"The keyword is already used by the live item “{other['title']}”.",
            item_id=other["id"],
        )


# What the audit log keeps of an item (the body by its size and fingerprint: it runs to
# 50,000 characters, and the item keeps the text itself).
AUDITED_FIELDS = ("title", "keyword", "members_only", "teaser", "publish_at", "audio_file")


def _audited(item: FeedItem) -> dict[str, Any]:
    digest = sha256(item.body.encode()).hexdigest()[:12]
    return {
        **audit.snapshot(item, AUDITED_FIELDS),
        "body": f"{len(item.body)} characters, sha256 {digest}",
    }


def _check_teaser(text: str) -> str:
    clean = " ".join(text.split())
    if len(clean) > 300:
        raise ValidationError("teaser", "must be at most 300 characters")
    return clean


async def _index(item: FeedItem) -> None:
    text = f"{item.title}\n{item.keyword}\n{plain_text(item.body_html)}"
    await search.index_document(SEARCH_KIND, item.id, text)
    public = (
        teaser_of(item.body_html, item.teaser) if item.members_only else plain_text(item.body_html)
    )
    await search.index_document(
        PUBLIC_SEARCH_KIND, item.id, f"{item.title}\n{item.keyword}\n{public}"
    )


async def reindex_all() -> int:
    """Index every item again (after the index's rules changed); returns how many."""
    items = await FeedItem.all()
    for item in items:
        await _index(item)
    return len(items)


async def create_item(
    *,
    title: str,
    body: str,
    keyword: str,
    members_only: bool = False,
    teaser: str = "",
    publish_at: datetime | None = None,
    author: User | None = None,
    audio: CheckedAudio | None = None,
    now: datetime,
    memory: FeedMemory | None = None,
    actor: User | None = None,
) -> FeedItem:
    """A new item, published at `publish_at` (now when omitted), with an audit entry
    ("feed_item.create") naming `actor` (None: the command line, the demo). KeywordTaken on
    a clash."""
    title, body, key = _check_text(title, body, keyword)
    await _keyword_free(key)
    try:
        async with in_transaction():
            item = await FeedItem.create(
                title=title,
                body=body,
                body_html=render_markdown(body),
                keyword=keyword.strip(),
                keyword_key=key,
                live_keyword=key,
                members_only=members_only,
                teaser=_check_teaser(teaser),
                publish_at=publish_at or now,
                author=author,
            )
            if audio is not None:
                await _attach_audio(item, audio)
                await item.save(
                    update_fields=["audio_file", "audio_type", "audio_bytes", "audio_seconds"]
                )
            await audit.record(
                actor=actor,
                action="feed_item.create",
                object_type="feed_item",
                object_id=item.id,
                after=_audited(item),
                now=now,
            )
    except IntegrityError:  # a concurrent create took the keyword between check and insert
        raise KeywordTaken() from None
    await _index(item)
    if memory is not None:
        memory.written()
    await announce(FEED)  # and every other worker's memory at once
    return item


async def _attach_audio(item: FeedItem, audio: CheckedAudio) -> None:
    item.audio_file = await store_audio(item.id, audio)
    item.audio_type = audio.content_type
    item.audio_bytes = len(audio.data)
    item.audio_seconds = audio.seconds


async def get_item(item_id: int) -> FeedItem:
    item = await FeedItem.get_or_none(id=item_id)
    if item is None:
        raise ItemNotFound()
    return item


async def update_item(
    item_id: int,
    *,
    title: str,
    body: str,
    keyword: str,
    members_only: bool,
    publish_at: datetime | None,
    teaser: str = "",
    audio: CheckedAudio | None = None,
    remove_audio: bool = False,
    memory: FeedMemory | None = None,
    actor: User | None,
    now: datetime | None = None,
) -> FeedItem:
    """Edit an item; a new audio file replaces the old one (the old URL stops working). An
    edit that changes something is an audit entry ("feed_item.update", the changed fields
    before and after). Raises ItemNotFound, ValidationError, KeywordTaken."""
    item = await get_item(item_id)
    title, body, key = _check_text(title, body, keyword)
    if not item.unpublished:
        await _keyword_free(key, except_id=item.id)
    before = _audited(item)
    old_audio = item.audio_file
    item.title, item.body, item.body_html = title, body, render_markdown(body)
    item.keyword, item.keyword_key = keyword.strip(), key
    item.live_keyword = None if item.unpublished else key
    item.members_only = members_only
    item.teaser = _check_teaser(teaser)
    if publish_at is not None:
        item.publish_at = publish_at
    if audio is not None:
        await _attach_audio(item, audio)
    elif remove_audio:
        item.audio_file = item.audio_type = None
        item.audio_bytes = None
        item.audio_seconds = None
    changed_before, changed_after = audit.changed(before, _audited(item))
    try:
        async with in_transaction():
            await item.save()
            if changed_after:
                await audit.record(
                    actor=actor,
                    action="feed_item.update",
                    object_type="feed_item",
                    object_id=item.id,
                    before=changed_before,
                    after=changed_after,
                    now=now,
                )
    except IntegrityError:
        raise KeywordTaken() from None
    if old_audio and old_audio != item.audio_file:
        await delete_audio(old_audio)
    await _index(item)
    if memory is not None:
        memory.written()
    await announce(FEED)  # and every other worker's memory at once
    return item


async def set_published(
    item_id: int,
    published: bool,
    *,
    memory: FeedMemory | None = None,
    actor: User | None,
    now: datetime | None = None,
) -> FeedItem:
    """Unpublish (the item leaves the feed and frees its keyword) or publish again (KeywordTaken
    when another live item has taken the keyword meanwhile). A change of state is an audit
    entry ("feed_item.publish" / "feed_item.unpublish"). Raises ItemNotFound, KeywordTaken."""
    item = await get_item(item_id)
    if published:
        await _keyword_free(item.keyword_key, except_id=item.id)
    was_unpublished = item.unpublished
    item.unpublished = not published
    item.live_keyword = item.keyword_key if published else None
    try:
        async with in_transaction():
            await item.save(update_fields=["unpublished", "live_keyword", "updated_at"])
            if was_unpublished != item.unpublished:
                await audit.record(
                    actor=actor,
                    action="feed_item.publish" if published else "feed_item.unpublish",
                    object_type="feed_item",
                    object_id=item.id,
                    before={"unpublished": was_unpublished},
                    after={"unpublished": item.unpublished},
                    now=now,
                )
    except IntegrityError:
        raise KeywordTaken() from None
    if memory is not None:
        memory.written()
    await announce(FEED)  # and every other worker's memory at once
    return item


async def admin_items(limit: int = 200) -> list[FeedItem]:
    """Every item, scheduled and unpublished too, newest publish time first."""
    return await FeedItem.all().order_by("-publish_at", "-id").limit(limit)
