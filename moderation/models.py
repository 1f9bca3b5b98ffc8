"""Moderation's tables: the watched words, their lists' version, and the review queue."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from accounts.models import User


class WordAction(StrEnum):
    """What a watched word does to a text that has it (Discourse's watched words)."""

    BLOCK = "block"  # refused, the words named
    CENSOR = "censor"  # kept, the word shown as ■■
    REQUIRE_APPROVAL = "require_approval"  # held until a moderator approves it
    FLAG = "flag"  # published, and put in the queue for a look


class WatchedWord(Model):
    """One watched word (as an admin wrote it: lists show and export it so) with one action.
    `folded` is how the automaton compares it (moderation.folding)."""

    id = fields.IntField(primary_key=True)
    word = fields.CharField(max_length=100, unique=True)
    folded = fields.CharField(max_length=200)
    action = fields.CharEnumField(WordAction, max_length=20)
    created_at = fields.DatetimeField()
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="watched_words", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "moderation_watched_word"
        indexes = (("action", "word"),)


class WatchedWordsVersion(Model):
    """One row (id 1): raised in the transaction of every change to the lists. Each worker
    reads it at most once a second and rebuilds its automaton when it moved."""

    id = fields.IntField(primary_key=True)
    version = fields.BigIntField(default=0)

    class Meta:
        table = "moderation_words_version"


class ReviewStatus(StrEnum):
    WAITING = "waiting"
    APPROVED = "approved"
    REJECTED = "rejected"


class ReviewReason(StrEnum):
    HELD = "held"  # a require_approval word: not shown until approved
    FLAGGED = "flagged"  # a flag word: shown, and looked at
    NEW_AVATAR = "new_avatar"  # a young account's picture: not shown until approved


class ReviewItem(Model):
    """Something waiting for a moderator: `kind` and `object_id` name it (its package says
    what they mean: moderation.review.Reviewables), with the words that put it here and an
    excerpt of what it said then. Decided once (a guarded update), with the reason its author
    reads. How long it waited is decided_at - created_at."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=20)
    object_id = fields.IntField()
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="review_items", on_delete=fields.CASCADE
    )
    reason = fields.CharEnumField(ReviewReason, max_length=20)
    words: list[str] = fields.JSONField(default=list)
    excerpt = fields.CharField(max_length=300, default="")
    status = fields.CharEnumField(ReviewStatus, max_length=10, default=ReviewStatus.WAITING)
    created_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="review_decisions", null=True, on_delete=fields.SET_NULL
    )
    note = fields.CharField(max_length=300, default="")

    class Meta:
        table = "moderation_review_item"
        indexes = (("status", "created_at"), ("kind", "object_id"))


class ReportStatus(StrEnum):
    OPEN = "open"
    TAKEN_DOWN = "taken_down"  # what was reported was hidden (or acted on)
    DISMISSED = "dismissed"  # it stays: the reporter is told why


class Report(Model):
    """A member's report of something on the site (a post, a reply, a profile, a
    conversation: `object_type` and `object_id`, as moderation.reports.Reportables name
    them), once per person and thing. Closed with the others of the same thing, and the
    reporter told the outcome."""

    id = fields.IntField(primary_key=True)
    object_type = fields.CharField(max_length=20)
    object_id = fields.IntField()
    reporter: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="reports_made", on_delete=fields.CASCADE
    )
    reason = fields.CharField(max_length=500)
    created_at = fields.DatetimeField()
    status = fields.CharEnumField(ReportStatus, max_length=12, default=ReportStatus.OPEN)
    decided_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="reports_decided", null=True, on_delete=fields.SET_NULL
    )
    note = fields.CharField(max_length=300, default="")

    class Meta:
        table = "moderation_report"
        unique_together = (("object_type", "object_id", "reporter"),)
        indexes = (("status", "object_type", "object_id"), ("reporter_id", "created_at"))
