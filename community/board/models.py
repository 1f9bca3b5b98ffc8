"""The member board's tables: posts, their revisions, replies, likes, reports, bans."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

import ipregion
from accounts.models import User


class BoardCategory(Model):
    """A board category beyond the built-in ones (job, hiring, knowledge, question)."""

    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=30, unique=True)
    name = fields.CharField(max_length=30)

    class Meta:
        table = "community_board_category"


class BoardSettings(Model):
    """The board's switches, one row (id 1)."""

    id = fields.IntField(primary_key=True)
    members_only_read = fields.BooleanField(default=False)

    class Meta:
        table = "community_board_settings"


class Post(Model):
    id = fields.IntField(primary_key=True)
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="posts", on_delete=fields.CASCADE
    )
    category = fields.CharField(max_length=30, db_index=True)
    title = fields.CharField(max_length=120)
    body = fields.TextField()
    body_html = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    edited_at = fields.DatetimeField(null=True)
    last_activity_at = fields.DatetimeField(db_index=True)
    reply_count = fields.IntField(default=0)
    like_count = fields.IntField(default=0)
    hidden = fields.BooleanField(default=False)
    # Held by a watched word until a moderator approves it (moderation.review): hidden from
    # everyone but its author and the moderators meanwhile (hidden is true with it).
    pending_review = fields.BooleanField(default=False, db_default=False)
    locked = fields.BooleanField(default=False)
    pinned = fields.BooleanField(default=False)
    deleted = fields.BooleanField(default=False)
    # "<author id>:<form token or content hash>" while the post exists: a double click or a
    # retried request finds the first post instead of making a second one.
    dedupe_key = fields.CharField(max_length=80, null=True, unique=True)
    # IP属地: the province or country of the address the post was written from, never the
    # address (ipregion.region_of); an edit keeps it. None: not placed, or written before.
    ip_region = fields.CharField(max_length=ipregion.MAX_LENGTH, null=True)

    class Meta:
        table = "community_post"
        indexes = (("created_at",),)  # posts per day (stats)


class PostRevision(Model):
    """The text of a post before an edit, oldest first: edits keep their history."""

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "community.Post", related_name="revisions", on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=120)
    body = fields.TextField()
    written_at = fields.DatetimeField()

    class Meta:
        table = "community_post_revision"


class Reply(Model):
    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "community.Post", related_name="replies", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="replies", on_delete=fields.CASCADE
    )
    body = fields.TextField()
    body_html = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    hidden = fields.BooleanField(default=False)
    pending_review = fields.BooleanField(default=False, db_default=False)  # as Post's
    dedupe_key = fields.CharField(max_length=80, null=True, unique=True)
    # IP属地 of the address the reply was written from, as a post's.
    ip_region = fields.CharField(max_length=ipregion.MAX_LENGTH, null=True)

    class Meta:
        table = "community_reply"


class PostLike(Model):
    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "community.Post", related_name="likes", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="post_likes", on_delete=fields.CASCADE
    )

    class Meta:
        table = "community_post_like"
        unique_together = (("post", "user"),)


# Written no more: reports of posts (and of replies, profiles, conversations) are
# moderation.models.Report, where migration moderation/0002 copied these rows. Dropped in a
# later release, once no running code reads it (expand, then contract).
class PostReport(Model):
    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "community.Post", related_name="reports", on_delete=fields.CASCADE
    )
    reporter: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="post_reports", on_delete=fields.CASCADE
    )
    reason = fields.CharField(max_length=500)
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved = fields.BooleanField(default=False)

    class Meta:
        table = "community_post_report"
        unique_together = (("post", "reporter"),)


class BoardBan(Model):
    """A member who may not post, reply or like until `until`."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "accounts.User", related_name="board_ban", on_delete=fields.CASCADE
    )
    until = fields.DatetimeField()
    reason = fields.CharField(max_length=200, default="")

    class Meta:
        table = "community_board_ban"
