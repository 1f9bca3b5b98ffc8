"""Referral numbers: a referrer's links (visits, sign-ups, paid purchases) and the dashboard's
funnel, visits -> sign-ups -> paid, per source and per referrer, with rewards owed and paid."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.functions import Count, Sum

from accounts.models import User
from referrals.models import (
    EntryKind,
    LedgerEntry,
    LinkDay,
    Referral,
    ReferredKind,
    ShareLink,
    Source,
)
from tallies import SHANGHAI, shanghai_day

PAID_KINDS = (ReferredKind.ORDER, ReferredKind.ENROLLMENT)
MAX_LINKS_SHOWN = 200  # a referrer's page and answer: their latest links


@dataclass
class LinkRow:
    link: ShareLink
    visits: int = 0
    signups: int = 0
    paid: int = 0


async def _count_by(rows: Any, key: str) -> dict[Any, int]:
    return {
        row[key]: row["n"]
        for row in await rows.annotate(n=Count("id")).group_by(key).values(key, "n")
    }


async def my_links(user: User) -> list[LinkRow]:
    """The person's links, the latest first, each with its visits, sign-ups and paid purchases."""
    links = (
        await ShareLink.filter(sharer_id=user.id)
        .order_by("-created_at", "-id")
        .limit(MAX_LINKS_SHOWN)
    )
    ids = [link.id for link in links]
    if not ids:
        return []
    visits = {
        row["link_id"]: int(row["total"] or 0)
        for row in await LinkDay.filter(link_id__in=ids)
        .annotate(total=Sum("visits"))
        .group_by("link_id")
        .values("link_id", "total")
    }
    signups = await _count_by(Referral.filter(link_id__in=ids, kind=ReferredKind.SIGNUP), "link_id")
    paid = await _count_by(Referral.filter(link_id__in=ids, kind__in=PAID_KINDS), "link_id")
    return [
        LinkRow(link, visits.get(link.id, 0), signups.get(link.id, 0), paid.get(link.id, 0))
        for link in links
    ]


@dataclass
class FunnelCounts:
    visits: int = 0
    signups: int = 0
    paid: int = 0
    paid_fen: int = 0


@dataclass
class ReferrerCounts(FunnelCounts):
    referrer_id: int = 0
    display_name: str = ""
    owed_fen: int = 0  # earned (credits less reversals) and not paid out
    paid_out_fen: int = 0


@dataclass
class Funnel:
    days: int
    sources: dict[str, FunnelCounts] = field(default_factory=dict)
    referrers: list[ReferrerCounts] = field(default_factory=list)


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


async def funnel(*, now: datetime, days: int = 30, top: int = 50) -> Funnel:
    """The last `days` Asia/Shanghai days through share links: per source, and for the `top`
    referrers by paid purchases (then visits), with what they are owed and were paid out
    (all time: money does not expire with a window of days)."""
    first_day = shanghai_day(now) - timedelta(days=days - 1)
    since = _start_of(first_day)
    result = Funnel(days=days, sources={source.value: FunnelCounts() for source in Source})
    per_referrer: dict[int, ReferrerCounts] = defaultdict(ReferrerCounts)

    visit_rows = (
        await LinkDay.filter(day__gte=first_day)
        .annotate(total=Sum("visits"))
        .group_by("source", "link__sharer_id")
        .values("source", "link__sharer_id", "total")
    )
    for row in visit_rows:
        n = int(row["total"] or 0)
        result.sources.setdefault(row["source"], FunnelCounts()).visits += n
        per_referrer[row["link__sharer_id"]].visits += n

    referral_rows = (
        await Referral.filter(created_at__gte=since)
        .annotate(n=Count("id"), fen=Sum("amount_fen"))
        .group_by("source", "referrer_id", "kind")
        .values("source", "referrer_id", "kind", "n", "fen")
    )
    for row in referral_rows:
        counts = result.sources.setdefault(row["source"], FunnelCounts())
        mine = per_referrer[row["referrer_id"]]
        if row["kind"] == ReferredKind.SIGNUP:
            counts.signups += row["n"]
            mine.signups += row["n"]
        else:
            counts.paid += row["n"]
            counts.paid_fen += int(row["fen"] or 0)
            mine.paid += row["n"]
            mine.paid_fen += int(row["fen"] or 0)

    ranked = sorted(per_referrer.items(), key=lambda kv: (-kv[1].paid, -kv[1].visits, kv[0]))[:top]
    ids = [referrer_id for referrer_id, _ in ranked]
    names = dict(await User.filter(id__in=ids).values_list("id", "display_name")) if ids else {}
    money = (
        await LedgerEntry.filter(referrer_id__in=ids)
        .annotate(total=Sum("amount_fen"))
        .group_by("referrer_id", "kind")
        .values("referrer_id", "kind", "total")
        if ids
        else []
    )
    for referrer_id, counts in ranked:
        counts.referrer_id = referrer_id
        counts.display_name = str(names.get(referrer_id, ""))
    by_id = dict(ranked)
    for row in money:
        counts = by_id[row["referrer_id"]]
        total = int(row["total"] or 0)
        if row["kind"] == EntryKind.PAYOUT:
            counts.paid_out_fen += -total
        counts.owed_fen += total
    result.referrers = [counts for _, counts in ranked]
    return result
