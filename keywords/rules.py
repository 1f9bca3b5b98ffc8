"""Admins' auto-replies: a rule's keywords (each matching the whole input or any part of it)
and its replies (a text, a product, the enrollment window, a board post, a feed item), saved,
changed and deleted with an audit entry. What a rule answers is keywords.services. No HTTP.

Invariant "one rule per keyword": AutoReplyKeyword.key, the folded keyword, is unique across
every rule (the database refuses the second of two saves racing for one keyword: 409
keyword_taken). A keyword that is a live feed item's is refused too (the feed's item would
answer it first); a feed item may still be given a rule's keyword later, and then wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from community.board.models import Post
from community.feed.errors import KeywordTaken
from community.feed.models import FeedItem
from community.text import normalise_keyword
from errors import ValidationError
from keywords.errors import RuleNotFound
from keywords.memory import KeywordMemory
from keywords.models import (
    KEYWORD_MAX,
    TEXT_MAX,
    AutoReply,
    AutoReplyAnswer,
    AutoReplyKeyword,
    MatchMode,
    ReplyKind,
    ReplyMode,
)
from store.models import Product
from translation import N_
from web.api import DB_INT_MAX, LINE_PATTERN, TEXT_PATTERN

_LINE = re.compile(LINE_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)
MAX_KEYWORDS = 20
MAX_REPLIES = 10
NEEDS_ID = {ReplyKind.PRODUCT: Product, ReplyKind.POST: Post, ReplyKind.FEED_ITEM: FeedItem}
NAMES_NOTHING = {
    ReplyKind.PRODUCT: N_("names no product"),
    ReplyKind.POST: N_("names no board post"),
    ReplyKind.FEED_ITEM: N_("names no feed item"),
}


@dataclass(frozen=True)
class KeywordInput:
    """A keyword as typed, and how it matches ("equal" or "contain")."""

    text: str
    match: str = MatchMode.EQUAL.value


@dataclass(frozen=True)
class ReplyInput:
    """A reply as given: its kind, and its text (a text) or the id of what it names."""

    kind: str
    text: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class CheckedKeyword:
    text: str
    key: str
    match: MatchMode


@dataclass(frozen=True)
class CheckedReply:
    kind: ReplyKind
    text: str | None
    target_id: int | None


@dataclass(frozen=True)
class RuleRecord:
    """A rule with its keywords and its replies, in order."""

    rule: AutoReply
    keywords: list[AutoReplyKeyword] = field(default_factory=list)
    replies: list[AutoReplyAnswer] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.rule.id


class _Problems:
    """Every problem of a rule's input, so that a form shows them all at once."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, name: str, reason: str) -> None:
        self.found.append((name, reason))

    def check(self) -> None:
        if self.found:
            (name, reason), *_ = self.found
            raise ValidationError(name, reason, others=self.found)


def _shown(text: str, pattern: re.Pattern[str]) -> bool:
    """Whether `text` can be shown as it is: no control characters, no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return pattern.match(text) is not None


def _check_keywords(keywords: Sequence[KeywordInput], problems: _Problems) -> list[CheckedKeyword]:
    if not keywords:
        problems.add("keywords", "needs at least one keyword")
    if len(keywords) > MAX_KEYWORDS:
        problems.add("keywords", f"must have at most {MAX_KEYWORDS} entries")
        keywords = keywords[:MAX_KEYWORDS]
    checked: list[CheckedKeyword] = []
    seen: set[str] = set()
    for n, given in enumerate(keywords):
        text = " ".join(given.text.split())
        key = normalise_keyword(text)
        try:
            match = MatchMode(given.match)
        except ValueError:
            problems.add(f"keywords[{n}].match", "is not one of the allowed values")
            continue
        if not _shown(given.text, _LINE):
            problems.add(f"keywords[{n}].text", "must not contain control characters")
        elif not key:
            problems.add(f"keywords[{n}].text", "must contain a letter, digit or character")
        elif len(text) > KEYWORD_MAX or len(key) > KEYWORD_MAX:
            problems.add(f"keywords[{n}].text", f"must be at most {KEYWORD_MAX} characters")
        elif key in seen:
            problems.add(f"keywords[{n}].text", "is the same keyword as another of this rule")
        else:
            seen.add(key)
            checked.append(CheckedKeyword(text=text, key=key, match=match))
    return checked


async def _check_replies(replies: Sequence[ReplyInput], problems: _Problems) -> list[CheckedReply]:
    if not replies:
        problems.add("replies", "needs at least one reply")
    if len(replies) > MAX_REPLIES:
        problems.add("replies", f"must have at most {MAX_REPLIES} entries")
        replies = replies[:MAX_REPLIES]
    checked: list[CheckedReply] = []
    for n, given in enumerate(replies):
        try:
            kind = ReplyKind(given.kind)
        except ValueError:
            problems.add(f"replies[{n}].kind", "is not one of the allowed values")
            continue
        if kind == ReplyKind.TEXT:
            text = (given.text or "").strip()
            if not _shown(text, _TEXT):
                problems.add(f"replies[{n}].text", "must not contain control characters")
            elif not text:
                problems.add(f"replies[{n}].text", "is required")
            elif len(text) > TEXT_MAX:
                problems.add(f"replies[{n}].text", f"must be at most {TEXT_MAX} characters")
            else:
                checked.append(CheckedReply(kind, text, None))
        elif kind == ReplyKind.WINDOW:
            checked.append(CheckedReply(kind, None, None))
        elif given.id is None:
            problems.add(f"replies[{n}].id", "is required")
        elif not 1 <= given.id <= DB_INT_MAX:
            problems.add(f"replies[{n}].id", "must be an id")
        elif not await NEEDS_ID[kind].exists(id=given.id):
            problems.add(f"replies[{n}].id", NAMES_NOTHING[kind])
        else:
            checked.append(CheckedReply(kind, None, given.id))
    return checked


async def check_rule(
    keywords: Sequence[KeywordInput], replies: Sequence[ReplyInput]
) -> tuple[list[CheckedKeyword], list[CheckedReply]]:
    """A rule's keywords and replies checked: at least one of each, at most MAX_KEYWORDS and
    MAX_REPLIES; a keyword says something and is at most KEYWORD_MAX characters, folded or
    not, and not twice in one rule; a text reply has a text, a product, post or feed item
    reply names one that exists. Raises ValidationError listing every problem."""
    problems = _Problems()
    checked_keywords = _check_keywords(keywords, problems)
    checked_replies = await _check_replies(replies, problems)
    problems.check()
    return checked_keywords, checked_replies


def _mode(mode: str) -> ReplyMode:
    try:
        return ReplyMode(mode)
    except ValueError:
        raise ValidationError("mode", "is not one of the allowed values") from None


async def _keywords_free(keywords: list[CheckedKeyword], *, rule_id: int | None = None) -> None:
    """KeywordTaken when another rule or a live feed item has one of `keywords` (folded)."""
    typed = {keyword.key: keyword.text for keyword in keywords}
    other = AutoReplyKeyword.filter(key__in=list(typed))
    if rule_id is not None:
        other = other.exclude(rule_id=rule_id)
    clash = await other.order_by("id").first().values("key", "rule_id")
    if clash:
        raise KeywordTaken(
            N_("The keyword “%(keyword)s” already answers with another auto-reply."),
            keyword=typed[clash["key"]],
            rule_id=clash["rule_id"],
        )
    item = await FeedItem.filter(live_keyword__in=list(typed)).order_by("id").first()
    if item is not None:
        raise KeywordTaken(
            N_("The keyword “%(keyword)s” is the keyword of the live feed item “%(title)s”."),
            keyword=typed[item.live_keyword or ""],
            title=item.title,
            item_id=item.id,
        )


def _recorded(mode: ReplyMode, keywords: list[CheckedKeyword], replies: list[CheckedReply]) -> Any:
    return {
        "mode": mode.value,
        "keywords": [{"text": k.text, "match": k.match.value} for k in keywords],
        "replies": [
            {"kind": r.kind.value, **({"text": r.text} if r.text else {}), "id": r.target_id}
            for r in replies
        ],
    }


async def _write_parts(
    rule: AutoReply, keywords: list[CheckedKeyword], replies: list[CheckedReply]
) -> None:
    await AutoReplyKeyword.bulk_create(
        [AutoReplyKeyword(rule=rule, text=k.text, key=k.key, match=k.match) for k in keywords]
    )
    await AutoReplyAnswer.bulk_create(
        [
            AutoReplyAnswer(rule=rule, position=n, kind=r.kind, text=r.text, target_id=r.target_id)
            for n, r in enumerate(replies)
        ]
    )


def _taken() -> KeywordTaken:
    # The unique key refused a keyword that another save wrote after the check above.
    return KeywordTaken(
        N_("Another auto-reply was given one of these keywords at the same moment.")
    )


async def create_rule(
    *,
    actor: User | None,
    keywords: Sequence[KeywordInput],
    replies: Sequence[ReplyInput],
    mode: str = ReplyMode.ALL.value,
    now: datetime,
    memory: KeywordMemory | None = None,
) -> AutoReply:
    """A new auto-reply, with an audit entry ("auto_reply.create"). Raises ValidationError
    (check_rule, a bad `mode`), KeywordTaken (a keyword another rule or a live feed item
    has, or one saved by another admin at the same moment)."""
    wanted = _mode(mode)
    checked_keywords, checked_replies = await check_rule(keywords, replies)
    await _keywords_free(checked_keywords)
    try:
        async with in_transaction():
            rule = await AutoReply.create(
                mode=wanted, created_by=actor, created_at=now, updated_at=now
            )
            await _write_parts(rule, checked_keywords, checked_replies)
            await audit.record(
                actor=actor,
                action="auto_reply.create",
                object_type="auto_reply",
                object_id=rule.id,
                after=_recorded(wanted, checked_keywords, checked_replies),
                now=now,
            )
    except IntegrityError:
        raise _taken() from None
    if memory is not None:
        memory.written()
    return rule


async def get_rule(rule_id: int) -> RuleRecord:
    """A rule with its keywords and replies. Raises RuleNotFound."""
    rule = await AutoReply.get_or_none(id=rule_id)
    if rule is None:
        raise RuleNotFound()
    return RuleRecord(
        rule=rule,
        keywords=await AutoReplyKeyword.filter(rule_id=rule.id).order_by("id"),
        replies=await AutoReplyAnswer.filter(rule_id=rule.id).order_by("position"),
    )


async def all_rules() -> list[RuleRecord]:
    """Every rule, the newest first, with its keywords and replies (a few queries in all)."""
    rules = await AutoReply.all().order_by("-id")
    keywords: dict[int, list[AutoReplyKeyword]] = {}
    for keyword in await AutoReplyKeyword.all().order_by("id"):
        keywords.setdefault(keyword.rule_id, []).append(keyword)  # type: ignore[attr-defined]
    replies: dict[int, list[AutoReplyAnswer]] = {}
    for reply in await AutoReplyAnswer.all().order_by("rule_id", "position"):
        replies.setdefault(reply.rule_id, []).append(reply)  # type: ignore[attr-defined]
    return [
        RuleRecord(rule=rule, keywords=keywords.get(rule.id, []), replies=replies.get(rule.id, []))
        for rule in rules
    ]


def _record_of(record: RuleRecord) -> Any:
    return _recorded(
        record.rule.mode,
        [CheckedKeyword(k.text, k.key, k.match) for k in record.keywords],
        [CheckedReply(r.kind, r.text, r.target_id) for r in record.replies],
    )


async def update_rule(
    rule_id: int,
    *,
    actor: User | None,
    keywords: Sequence[KeywordInput],
    replies: Sequence[ReplyInput],
    mode: str = ReplyMode.ALL.value,
    now: datetime,
    memory: KeywordMemory | None = None,
) -> AutoReply:
    """A rule's keywords, replies and mode replaced, with an audit entry
    ("auto_reply.update"). Raises RuleNotFound, and what create_rule raises."""
    if not await AutoReply.exists(id=rule_id):
        raise RuleNotFound()
    wanted = _mode(mode)
    checked_keywords, checked_replies = await check_rule(keywords, replies)
    await _keywords_free(checked_keywords, rule_id=rule_id)
    try:
        async with in_transaction():
            rule = await AutoReply.filter(id=rule_id).select_for_update().first()
            if rule is None:
                raise RuleNotFound()
            before = _record_of(await get_rule(rule_id))
            await AutoReplyKeyword.filter(rule_id=rule.id).delete()
            await AutoReplyAnswer.filter(rule_id=rule.id).delete()
            await _write_parts(rule, checked_keywords, checked_replies)
            rule.mode = wanted
            rule.updated_at = now
            await rule.save(update_fields=["mode", "updated_at"])
            after = _recorded(wanted, checked_keywords, checked_replies)
            changed_before, changed_after = audit.changed(before, after)
            await audit.record(
                actor=actor,
                action="auto_reply.update",
                object_type="auto_reply",
                object_id=rule.id,
                before=changed_before,
                after=changed_after,
                now=now,
            )
    except IntegrityError:
        raise _taken() from None
    if memory is not None:
        memory.written()
    return rule


async def delete_rule(
    rule_id: int, *, actor: User | None, now: datetime, memory: KeywordMemory | None = None
) -> None:
    """Delete a rule with its keywords and replies, with an audit entry ("auto_reply.delete"
    keeping what it was). Raises RuleNotFound."""
    async with in_transaction():
        record = await get_rule(rule_id)
        await AutoReply.filter(id=rule_id).delete()
        await audit.record(
            actor=actor,
            action="auto_reply.delete",
            object_type="auto_reply",
            object_id=rule_id,
            before=_record_of(record),
            now=now,
        )
    if memory is not None:
        memory.written()
