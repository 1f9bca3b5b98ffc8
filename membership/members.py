"""The console's list of members: current members (or everyone who has been one) found by
email or name, a page at a time with how each became a member, and all of them for an
export, read a batch at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q

from accounts.models import User
from membership.grants import is_member
from membership.models import GrantSource, Member, MembershipGrant

PAGE_SIZE = 50
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class MemberRow:
    number: int  # the card number (Member.id)
    user: User
    since: datetime
    valid: bool
    source: GrantSource | None  # how their latest grant still in force came


@dataclass(frozen=True)
class MembersPage:
    rows: list[MemberRow]
    next_cursor: int | None  # the card number the next page starts before


def _members(query: str, *, now: datetime, current_only: bool) -> Any:
    members = Member.all()
    text = " ".join(str(query).split())[:100]
    if text:
        members = members.filter(
            Q(user__email__icontains=text) | Q(user__display_name__icontains=text)
        )
    if current_only:  # is_member's rule, in the database
        members = members.filter(user__member_until__gt=now)
    return members


async def _latest_sources(user_ids: Sequence[int]) -> dict[int, GrantSource]:
    grants = (
        await MembershipGrant.filter(user_id__in=list(user_ids), revoked_at=None)
        .order_by("id")
        .values_list("user_id", "source")
    )
    return {int(user_id): GrantSource(source) for user_id, source in grants}  # the latest wins


async def members_page(
    *,
    query: str = "",
    now: datetime,
    current_only: bool = True,
    cursor: int | None = None,
    limit: int = PAGE_SIZE,
) -> MembersPage:
    """Members whose email or name holds `query`, the newest member first, `limit` at a time
    (`cursor`: the card number the previous page ended before); with `current_only`, only
    those whose membership is valid at `now`."""
    rows = _members(query, now=now, current_only=current_only)
    if cursor is not None:
        rows = rows.filter(id__lt=cursor)
    found: list[Member] = await rows.order_by("-id").limit(limit + 1).select_related("user")
    page = found[:limit]
    sources = await _latest_sources([member.user.id for member in page])
    return MembersPage(
        rows=[
            MemberRow(
                number=member.id,
                user=member.user,
                since=member.since,
                valid=is_member(member.user, at=now),
                source=sources.get(member.user.id),
            )
            for member in page
        ],
        next_cursor=page[-1].id if len(found) > limit and page else None,
    )


async def all_members(
    *, query: str = "", now: datetime, current_only: bool = True
) -> AsyncIterator[Member]:
    """Every member members_page would list, oldest card first, with their person, read
    EXPORT_BATCH at a time by card number (an export of 100,000 holds one batch)."""
    last = 0
    while True:
        batch: list[Member] = (
            await _members(query, now=now, current_only=current_only)
            .filter(id__gt=last)
            .order_by("id")
            .limit(EXPORT_BATCH)
            .select_related("user")
        )
        for member in batch:
            yield member
        if len(batch) < EXPORT_BATCH:
            return
        last = batch[-1].id
