"""The back office's own tables about people: notes, tags, segments and broadcasts."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from accounts.models import User


class NoteVisibility(StrEnum):
    STAFF = "staff"  # every staff member who may read people (support, moderators, admins)
    ADMINS = "admins"  # owners and admins only


class PersonNote(Model):
    """What a staff member wrote about a person: who wrote what, when. Notes are never edited
    or deleted (they are a record); an admin may only change who may read one."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="crm_notes", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="crm_notes_written", null=True, on_delete=fields.SET_NULL
    )
    body = fields.TextField()
    visibility = fields.CharEnumField(NoteVisibility, max_length=10, default=NoteVisibility.STAFF)
    created_at = fields.DatetimeField()

    class Meta:
        table = "crm_note"
        indexes = (("user_id", "id"),)


class Tag(Model):
    """A label admins put on people ("讲师", "VIP", "media"), which segments can select by."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=30, unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "crm_tag"


class PersonTag(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="crm_tags", on_delete=fields.CASCADE
    )
    tag: fields.ForeignKeyRelation[Tag] = fields.ForeignKeyField(
        "crm.Tag", related_name="people", on_delete=fields.CASCADE
    )
    added_by_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "crm_person_tag"
        unique_together = (("user", "tag"),)
        indexes = (("tag_id", "user_id"),)


class Segment(Model):
    """A saved filter over people (crm.segments.SegmentFilter, stored as its JSON), counted
    live whenever it is shown: an audience for a broadcast and an export."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=60, unique=True)
    rules: Any = fields.JSONField()  # the API calls it `filter`
    created_by_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "crm_segment"


class BroadcastStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for send_at (now, for "send now")
    SENDING = "sending"  # its recipients are written; batches are being delivered
    SENT = "sent"  # every recipient delivered, skipped or failed
    CANCELED = "canceled"  # withdrawn before it started


class AudienceKind(StrEnum):
    ALL_MEMBERS = "all_members"
    EVERYONE = "everyone"
    SEGMENT = "segment"
    PRODUCT_BUYERS = "product_buyers"


class Broadcast(Model):
    """One message to many (crm.broadcasts): its text, its audience, and how its sending goes.
    The counters are moved only by the batch that delivers (one transaction with it)."""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=120)
    body = fields.TextField()  # Markdown as written
    body_html = fields.TextField()  # rendered and sanitised once
    links: Any = fields.JSONField(default=list)  # the body's link targets, by index (clicks)
    audience_kind = fields.CharEnumField(AudienceKind, max_length=20)
    audience_id = fields.IntField(null=True)  # the segment's or the product's id
    status = fields.CharEnumField(BroadcastStatus, max_length=10, default=BroadcastStatus.SCHEDULED)
    send_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    recipients = fields.IntField(default=0)
    delivered = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    skipped = fields.IntField(default=0)  # already reached by another broadcast that day
    mailed = fields.IntField(default=0)  # of the delivered, those also sent the mail
    clicks = fields.IntField(default=0)
    created_by_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "crm_broadcast"
        indexes = (("status", "send_at"),)


class RecipientState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    SKIPPED = "skipped"
    FAILED = "failed"  # the account was gone by the time its batch ran


class BroadcastRecipient(Model):
    """One person a broadcast is for, written when its sending starts. A batch moves it from
    pending exactly once, in the transaction that delivers it."""

    id = fields.IntField(primary_key=True)
    broadcast: fields.ForeignKeyRelation[Broadcast] = fields.ForeignKeyField(
        "crm.Broadcast", related_name="recipient_rows", on_delete=fields.CASCADE
    )
    user_id = fields.IntField()
    state = fields.CharEnumField(RecipientState, max_length=10, default=RecipientState.PENDING)
    done_at = fields.DatetimeField(null=True)
    clicked_at = fields.DatetimeField(null=True)  # first click of one of its links

    class Meta:
        table = "crm_broadcast_recipient"
        unique_together = (("broadcast", "user_id"),)
        indexes = (("broadcast_id", "state", "user_id"), ("user_id",))


class DailyReach(Model):
    """The broadcast that reached a person on one Asia/Shanghai day. Invariant "nobody receives
    more than one broadcast a day": the unique (user_id, day), written in the transaction that
    delivers, so overlapping audiences and concurrent batches cannot reach anyone twice. Rows
    older than yesterday are deleted by the sending job: a reach matters only on its day."""

    id = fields.IntField(primary_key=True)
    user_id = fields.IntField()
    day = fields.DateField()
    broadcast_id = fields.IntField()

    class Meta:
        table = "crm_daily_reach"
        unique_together = (("user_id", "day"),)
        indexes = (("day",),)  # a day's reach (the 409), and the days let go
