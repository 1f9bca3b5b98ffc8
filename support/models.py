"""Customer service's tables: a member's conversations with the staff, and their messages."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from accounts.models import User


class ConversationStatus(StrEnum):
    WAITING = "waiting"  # the member wrote last: the staff owe an answer (the queue)
    ANSWERED = "answered"  # the staff wrote last
    CLOSED = "closed"  # ended by the member or the staff; a new message opens it again


class Conversation(Model):
    """A member's thread with customer service. `waiting_since` is when the member's oldest
    unanswered message arrived (null unless waiting): the queue's order. `first_response_at`
    is the first staff reply's time, written once: the first-response time is its distance
    from `first_message_at`."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="support_conversations", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(
        ConversationStatus, max_length=10, default=ConversationStatus.WAITING
    )
    waiting_since = fields.DatetimeField(null=True)
    first_message_at = fields.DatetimeField()
    first_response_at = fields.DatetimeField(null=True)
    last_message_at = fields.DatetimeField()
    last_message_id = fields.IntField(null=True)  # the latest message, for the lists

    class Meta:
        table = "support_conversation"
        indexes = (
            ("status", "waiting_since"),  # the queue: the longest waiting first
            ("user_id", "last_message_at"),  # a member's list: the latest first
            ("status", "last_message_at"),  # the answered and closed tabs
            ("first_message_at",),  # the first-response times of the last 30 days
        )


class Message(Model):
    """One message of a conversation, by its member or by a staff member (`from_staff`). A
    picture is kept privately (support.attachments): `picture` names its files, never under
    the public /media. `page` is the site's path the member wrote from, checked as local."""

    id = fields.IntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "support.Conversation", related_name="messages", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="support_messages", null=True, on_delete=fields.SET_NULL
    )
    from_staff = fields.BooleanField()
    # At most support.services.MAX_BODY characters as counted there (a newline as one, the
    # spaces around it dropped) before NFC, which may lengthen the stored text a little.
    body = fields.TextField()
    picture = fields.CharField(max_length=40, null=True)  # the stem of its files
    picture_width = fields.IntField(null=True)
    picture_height = fields.IntField(null=True)
    page = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "support_message"
        indexes = (("conversation_id", "id"),)
