"""The keyword box's own tables: admins' auto-replies (their keywords and replies) and the
lookups that found nothing."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from accounts.models import User
from community.feed.services import KEYWORD_MAX as KEYWORD_MAX

TEXT_MAX = 1000  # a text reply
MISS_MAX = 100  # what is kept of a missed lookup (the keyword box takes 100 characters)


class ReplyMode(StrEnum):
    ALL = "all"  # every reply, in order
    RANDOM_ONE = "random_one"  # one of them, at random


class MatchMode(StrEnum):
    EQUAL = "equal"  # the whole input is the keyword
    CONTAIN = "contain"  # the keyword is anywhere in the input


class ReplyKind(StrEnum):
    TEXT = "text"
    PRODUCT = "product"
    WINDOW = "window"  # the current or next enrollment window (no id: whichever it is then)
    POST = "post"
    FEED_ITEM = "feed_item"


class AutoReply(Model):
    """An admin's answer to keywords: its keywords, its replies, and whether it answers with all
    of them or one at random. `hits` counts the lookups it answered."""

    id = fields.IntField(primary_key=True)
    mode = fields.CharEnumField(ReplyMode, max_length=12, default=ReplyMode.ALL)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="auto_replies", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    hits = fields.IntField(default=0)

    class Meta:
        table = "keywords_auto_reply"


class AutoReplyKeyword(Model):
    """One keyword of a rule, as typed and folded. Invariant "one rule per keyword": `key` (the
    folded keyword, keywords.matching.keyword_key: an `equal` one with its ends trimmed, a
    `contain` one without) is unique across every rule, so two admins saving the same keyword
    at once cannot both succeed."""

    id = fields.IntField(primary_key=True)
    rule: fields.ForeignKeyRelation[AutoReply] = fields.ForeignKeyField(
        "keywords.AutoReply", related_name="keywords", on_delete=fields.CASCADE
    )
    text = fields.CharField(max_length=KEYWORD_MAX)
    key = fields.CharField(max_length=KEYWORD_MAX, unique=True)
    match = fields.CharEnumField(MatchMode, max_length=8, default=MatchMode.EQUAL)

    class Meta:
        table = "keywords_auto_reply_keyword"
        indexes = (("rule_id",),)


class AutoReplyAnswer(Model):
    """One reply of a rule, in its place: a text, or what it names (a product, a post, a feed
    item by `target_id`; the window by none), looked up again at each answer."""

    id = fields.IntField(primary_key=True)
    rule: fields.ForeignKeyRelation[AutoReply] = fields.ForeignKeyField(
        "keywords.AutoReply", related_name="answers", on_delete=fields.CASCADE
    )
    position = fields.IntField()
    kind = fields.CharEnumField(ReplyKind, max_length=10)
    text = fields.CharField(max_length=TEXT_MAX, null=True)
    target_id = fields.IntField(null=True)

    class Meta:
        table = "keywords_auto_reply_answer"
        unique_together = (("rule", "position"),)


class KeywordMiss(Model):
    """Lookups of one folded keyword that nothing answered, on one Asia/Shanghai day, with the
    first form typed that day. Past the day's limit of words a new word is counted in the
    day's row with an empty key (keywords.misses)."""

    id = fields.IntField(primary_key=True)
    day = fields.DateField()
    key = fields.CharField(max_length=MISS_MAX)
    sample = fields.CharField(max_length=MISS_MAX)
    count = fields.IntField(default=0)
    last_at = fields.DatetimeField()

    class Meta:
        table = "keywords_miss"
        unique_together = (("day", "key"),)
