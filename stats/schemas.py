"""The numbers' API shapes: the dashboard's days, a sale's funnel."""

from __future__ import annotations

import msgspec

from web.schemas import Answer, OptionalDay, Query

Day = OptionalDay  # an Asia/Shanghai day


class StatsQuery(Query):
    """A range of Asia/Shanghai days, both included, at most 366; either left out (or empty):
    the 30 days up to today, or 30 days from `from`, or up to `to`."""

    from_: Day = msgspec.field(default="", name="from")
    to: Day = ""


class StatsDay(Answer):
    date: str
    new_accounts: int
    members: int
    active_members: int
    feed_views: int
    feed_plays: int
    keyword_lookups: int
    product_views: int
    board_posts: int
    board_replies: int
    revenue_fen: int
    units_sold: int
    refunds_fen: int


class Stats(Answer):
    days: list[StatsDay]
    previous: list[StatsDay]  # the period just before, as many days
    refreshed_at: str | None  # when the rollups were last brought up to date


class FunnelMinute(Answer):
    at: str
    viewed: int
    held: int
    paid: int


class Funnel(Answer):
    kind: str
    id: int
    title: str
    opens_at: str
    minutes: list[FunnelMinute]
