"""The numbers, rolled up per Asia/Shanghai day by a job (stats.rollups), so that the dashboard
reads a few hundred small rows whatever the size of the community."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class StatsDay(Model):
    """One Asia/Shanghai day's numbers, recomputed whole from what was recorded (idempotent)."""

    day = fields.DateField(primary_key=True)
    new_accounts = fields.IntField(default=0)
    members = fields.IntField(default=0)  # people whose membership covered part of the day
    active_members = fields.IntField(default=0)  # see stats.rollups: members who did something
    feed_views = fields.IntField(default=0)
    feed_plays = fields.IntField(default=0)
    keyword_lookups = fields.IntField(default=0)
    product_views = fields.IntField(default=0)
    board_posts = fields.IntField(default=0)
    board_replies = fields.IntField(default=0)
    revenue_fen = fields.BigIntField(default=0)
    units_sold = fields.IntField(default=0)
    refunds_fen = fields.BigIntField(default=0)
    refreshed_at = fields.DatetimeField()

    class Meta:
        table = "stats_day"


class ExpiryMonth(Model):
    """How many current memberships end in one Asia/Shanghai month (the first of the month),
    as of the last refresh: renewals to come."""

    month = fields.DateField(primary_key=True)
    members = fields.IntField(default=0)
    refreshed_at = fields.DatetimeField()

    class Meta:
        table = "stats_expiry_month"
