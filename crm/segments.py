"""Segments: saved filters over people, each counted live, usable as a broadcast's audience
and as an export. A filter's conditions all hold at once (AND); each condition is a subquery
on the table that knows it, so a count is one query however many conditions it has."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.activity import FEED_PLAY, FEED_VIEW
from accounts.models import Activity, NoticeChannel, NoticeChoice, User
from crm.errors import SegmentInUse, SegmentNameTaken, SegmentNotFound
from crm.models import AudienceKind, Broadcast, BroadcastStatus, PersonTag, Segment
from errors import ValidationError
from store.models import Order, OrderStatus, Product
from web.schemas import Id, line, whole

# An order that was paid and not refunded: its buyer bought.
BOUGHT = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
BROADCAST_KIND = "broadcast"  # the notice kind broadcasts arrive as (crm.notices)
MAX_ID = 2**31 - 1


class SegmentFilter(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Who is in a segment: every condition given must hold; none given: everyone.
    `membership`: a member now, one whose membership ended, or never one. `expires_within_days`:
    members whose membership ends within that many days. `joined_within_days`: accounts made
    within that many days. `bought_product`: paid for this product (not refunded).
    `bought_in_last_drop`: paid for the latest drop whose sale has opened. `feed`: opened a
    feed item (read or played) or never did. `tag`: carries this tag. `broadcast_mail`: chose
    broadcasts by mail (true) or did not (false). An unknown condition is refused, so that a
    misspelt one does not select everyone. The API's body declares this very type."""

    membership: Literal["member", "expired", "never"] | None = None
    expires_within_days: Annotated[int, whole(1, 366)] | None = None
    joined_within_days: Annotated[int, whole(1, 3660)] | None = None
    bought_product: Id | None = None
    bought_in_last_drop: bool = False
    feed: Literal["never_opened", "opened"] | None = None
    tag: Annotated[str, line(30, min_length=1)] | None = None  # visible, no control characters
    broadcast_mail: bool | None = None


def read_filter(rules: Any) -> SegmentFilter:
    """A filter from its JSON form (an API body's, a form's, a stored one). Raises
    ValidationError naming what is wrong."""
    try:
        return msgspec.convert(rules, SegmentFilter, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationError("filter", str(exc)) from None


def filter_json(rules: SegmentFilter) -> dict[str, Any]:
    """The conditions given, as stored and shown (those left out are not written)."""
    defaults = SegmentFilter()
    return {
        name: getattr(rules, name)
        for name in rules.__struct_fields__
        if getattr(rules, name) != getattr(defaults, name)
    }


async def last_drop(now: datetime) -> Product | None:
    """The latest drop whose sale has opened by `now`."""
    return await Product.filter(sale_starts_at__lte=now).order_by("-sale_starts_at", "-id").first()


def buyers_of(product_id: int) -> Any:
    """The ids of people who paid for `product_id` (a values query to nest in Subquery)."""
    return Order.filter(status__in=BOUGHT, items__product_id=product_id).values("user_id")


async def people(rules: SegmentFilter, *, now: datetime) -> QuerySet[User]:
    """The people a filter selects at `now`, as a query (count it, take its ids, page it)."""
    where = Q()
    if rules.membership == "member":
        where &= Q(member_until__gt=now)
    elif rules.membership == "expired":
        where &= Q(member_until__lte=now)
    elif rules.membership == "never":
        where &= Q(member_until__isnull=True)
    if rules.expires_within_days is not None:
        where &= Q(
            member_until__gt=now, member_until__lte=now + timedelta(days=rules.expires_within_days)
        )
    if rules.joined_within_days is not None:
        where &= Q(created_at__gt=now - timedelta(days=rules.joined_within_days))
    if rules.bought_product is not None:
        where &= Q(id__in=Subquery(buyers_of(rules.bought_product)))
    if rules.bought_in_last_drop:
        drop = await last_drop(now)
        where &= Q(id__in=Subquery(buyers_of(drop.id))) if drop else Q(id__in=[])
    if rules.feed is not None:
        opened = Q(
            id__in=Subquery(Activity.filter(kind__in=(FEED_VIEW, FEED_PLAY)).values("user_id"))
        )
        where &= opened if rules.feed == "opened" else ~opened
    if rules.tag is not None:
        where &= Q(id__in=Subquery(PersonTag.filter(tag__name=rules.tag).values("user_id")))
    if rules.broadcast_mail is not None:
        chose = Q(
            id__in=Subquery(
                NoticeChoice.filter(
                    kind=BROADCAST_KIND, channel=NoticeChannel.INBOX_AND_MAIL
                ).values("user_id")
            )
        )
        where &= chose if rules.broadcast_mail else ~chose
    return User.filter(where)


async def count(rules: SegmentFilter, *, now: datetime) -> int:
    return await (await people(rules, now=now)).count()


async def create(
    *, actor: User | None, name: str, rules: SegmentFilter, now: datetime
) -> tuple[Segment, int]:
    """Save a segment and count it. Raises ValidationError, SegmentNameTaken."""
    clean = " ".join(name.split())
    if not 1 <= len(clean) <= 60:
        raise ValidationError("name", "must be 1 to 60 characters")
    try:
        async with in_transaction():
            segment = await Segment.create(
                name=clean,
                rules=filter_json(rules),
                created_by_id=actor.id if actor else None,
                created_at=now,
            )
            await audit.record(
                actor=actor,
                action="segment.create",
                object_type="segment",
                object_id=segment.id,
                after={"name": clean, "filter": segment.rules},
                now=now,
            )
    except IntegrityError:
        raise SegmentNameTaken() from None
    return segment, await count(rules, now=now)


async def get(segment_id: int) -> Segment:
    segment = await Segment.get_or_none(id=segment_id)
    if segment is None:
        raise SegmentNotFound()
    return segment


def rules_of(segment: Segment) -> SegmentFilter:
    return read_filter(segment.rules)


async def all_counted(*, now: datetime, limit: int = 200) -> list[tuple[Segment, int]]:
    """Every segment (newest first) with its live count."""
    segments = await Segment.all().order_by("-id").limit(limit)
    return [(s, await count(rules_of(s), now=now)) for s in segments]


async def delete(*, actor: User | None, segment_id: int, now: datetime) -> None:
    """Delete a segment. Raises SegmentNotFound, and SegmentInUse while a broadcast that is
    scheduled or sending goes to it (it would go to nobody)."""
    async with in_transaction():
        segment = await get(segment_id)
        if await Broadcast.filter(
            audience_kind=AudienceKind.SEGMENT,
            audience_id=segment_id,
            status__in=(BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING),
        ).exists():
            raise SegmentInUse()
        await segment.delete()
        await audit.record(
            actor=actor,
            action="segment.delete",
            object_type="segment",
            object_id=segment_id,
            before={"name": segment.name, "filter": segment.rules},
            now=now,
        )


EXPORT_BATCH = 1000


async def export_rows(rules: SegmentFilter, *, now: datetime) -> AsyncIterator[tuple[Any, ...]]:
    """The segment's people for a CSV, in id order, read a thousand at a time (keyset)."""
    query = await people(rules, now=now)
    after = 0
    while True:
        rows = await (
            query.filter(id__gt=after)
            .order_by("id")
            .limit(EXPORT_BATCH)
            .values_list("id", "email", "display_name", "member_until", "created_at")
        )
        for row in rows:
            yield row
        if len(rows) < EXPORT_BATCH:
            return
        after = rows[-1][0]
