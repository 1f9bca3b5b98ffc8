"""Community's tables: feed items, podcast feed tokens, and the search index they share."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from accounts.models import User


class FeedItem(Model):
    """One morning's voice or post. Live unless unpublished, visible once publish_at has come."""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=120)
    body = fields.TextField()  # Markdown as the admin wrote it
    body_html = fields.TextField()  # rendered and sanitised once, on save
    keyword = fields.CharField(max_length=40)  # as the admin typed it
    keyword_key = fields.CharField(max_length=40, db_index=True)  # normalised (NFKC, casefold)
    # The normalised keyword while the item is live, NULL once unpublished: the unique
    # constraint makes keywords unique among live items in the database itself.
    live_keyword = fields.CharField(max_length=40, null=True, unique=True)
    members_only = fields.BooleanField(default=False)
    # What non-members read of a members-only item, written for them by the admin; when empty,
    # a bounded share of the body that never reaches its end (community.text.teaser).
    teaser = fields.CharField(max_length=300, default="")
    publish_at = fields.DatetimeField(db_index=True)
    unpublished = fields.BooleanField(default=False)
    audio_file = fields.CharField(max_length=80, null=True, unique=True)  # <id>-<sha>.<ext>
    audio_type = fields.CharField(max_length=40, null=True)
    audio_bytes = fields.IntField(null=True)
    audio_seconds = fields.FloatField(null=True)
    views = fields.IntField(default=0)
    plays = fields.IntField(default=0)
    lookups = fields.IntField(default=0)
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="feed_items", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "community_feed_item"

    def __str__(self) -> str:
        return self.title


class PodcastFeed(Model):
    """A person's private podcast feed: the token is signed from (user, version), and a reset bumps
    the version, so every old URL stops working and nothing secret is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "accounts.User", related_name="podcast_feed", on_delete=fields.CASCADE
    )
    version = fields.IntField(default=1)

    class Meta:
        table = "community_podcast_feed"


class SearchTerm(Model):
    """An inverted index: one row per (document, word), words cut by jieba. Works the same on
    SQLite and PostgreSQL, and community.search is the only code that reads or writes it."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16)  # "feed", later "post"
    ref_id = fields.IntField()
    term = fields.CharField(max_length=64)

    class Meta:
        table = "community_search_term"
        indexes = (("kind", "term"), ("kind", "ref_id"))


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
    locked = fields.BooleanField(default=False)
    pinned = fields.BooleanField(default=False)
    deleted = fields.BooleanField(default=False)
    # "<author id>:<form token or content hash>" while the post exists: a double click or a
    # retried request finds the first post instead of making a second one.
    dedupe_key = fields.CharField(max_length=80, null=True, unique=True)

    class Meta:
        table = "community_post"


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
    dedupe_key = fields.CharField(max_length=80, null=True, unique=True)

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
