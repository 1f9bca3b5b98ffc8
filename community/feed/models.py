"""The daily feed's tables: its items and the private podcast feeds."""

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


class FeedItemDay(Model):
    """Views, plays and keyword lookups of one item on one Asia/Shanghai day (counted in
    memory and written in batches: community.feed.analytics, tallies)."""

    id = fields.IntField(primary_key=True)
    item_id = fields.IntField()
    day = fields.DateField()
    views = fields.IntField(default=0)
    plays = fields.IntField(default=0)
    lookups = fields.IntField(default=0)

    class Meta:
        table = "community_feed_item_day"
        unique_together = (("item_id", "day"),)
        indexes = (("day", "item_id"),)
