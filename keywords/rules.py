"""Admins' auto-replies: a rule's keywords (each matching the whole input or any part of it)
and its replies (a text, a product, the enrollment window, a board post, a feed item), saved,
changed and deleted with an audit entry. What a rule answers is keywords.services. No HTTP.

Invariant "one rule per keyword": AutoReplyKeyword.key, the folded keyword, is unique across
every rule (the database refuses the second of two saves racing for one keyword: 409
keyword_taken). A keyword that is a feed item's (live or scheduled) is refused too (the
feed's item would answer it first); a feed item may still be given a rule's keyword later,
and then wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from changes import KEYWORDS, announce
from community.feed import services as feed
from community.feed.errors import KeywordTaken
from errors import ValidationError
from keywords.checks import CheckedKeyword, CheckedReply, KeywordInput, ReplyInput, check_rule
from keywords.errors import RuleNotFound
from keywords.memory import KeywordMemory
from keywords.models import AutoReply, AutoReplyAnswer, AutoReplyKeyword, ReplyMode
from translation import N_


@dataclass(frozen=True)
class RuleRecord:
    """A rule with its keywords and its replies, in order."""

    rule: AutoReply
    keywords: list[AutoReplyKeyword] = field(default_factory=list)
    replies: list[AutoReplyAnswer] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.rule.id


def _mode(mode: str) -> ReplyMode:
    try:
        return ReplyMode(mode)
    except ValueError:
        raise ValidationError("mode", "is not one of the allowed values") from None


async def _keywords_free(keywords: list[CheckedKeyword], *, rule_id: int | None = None) -> None:
    """KeywordTaken when another rule or a feed item (live or scheduled) has one of
    `keywords` (folded)."""
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
    taken = await feed.keywords_taken(typed)
    if taken:
        key = min(taken, key=lambda key: taken[key].item_id)
        raise KeywordTaken(
            N_("The keyword “%(keyword)s” is the keyword of the feed item “%(title)s”."),
            keyword=typed[key],
            title=taken[key].title,
            item_id=taken[key].item_id,
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
    (check_rule, a bad `mode`), KeywordTaken (a keyword another rule or a feed item
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
    await announce(KEYWORDS)
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
    # Only the keywords it does not hold yet: a feed item may have been given one of its
    # keywords since (and answers it first); the rule must stay editable.
    held = {row["key"] for row in await AutoReplyKeyword.filter(rule_id=rule_id).values("key")}
    await _keywords_free([k for k in checked_keywords if k.key not in held], rule_id=rule_id)
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
    await announce(KEYWORDS)
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
    await announce(KEYWORDS)
