"""Referrals' API shapes: share links, a referrer's numbers and payouts, admins' reward rules,
payouts and funnel."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from referrals.reward_rules import MAX_REWARD_FEN
from web.api import Answer, Body, Id, Query, whole

SharedType = Literal["feed_item", "post", "product", "window"]


class NewShareLink(Body):
    """The thing to share; the caller's own link to it comes back (the same one each time)."""

    object_type: SharedType
    object_id: Id


class ShareLinkMade(Answer):
    code: str
    url: Annotated[str, msgspec.Meta(description="the short link, on the public address")]
    poster_url: Annotated[str, msgspec.Meta(description="its poster, a PNG (?lang=zh|en)")]


class ShareLinkNumbers(Answer):
    code: str
    url: str
    visits: int
    signups: int
    paid: int
    object_type: SharedType
    object_id: int


class RewardTarget(Body):
    kind: Literal["product", "window"]
    id: Id


class NewReward(Body):
    """A reward for the referrer of each paid purchase of a product or of the enrollment
    window: `value` percent (1-100) of what was paid, or `value` fen (never more than what
    was paid); `members_only`: only when the buyer is a member when paying. It replaces the
    thing's reward, if any. A percent over 100 or a thing that does not exist: 422."""

    applies_to: RewardTarget
    kind: Literal["percent", "amount"]
    value: Annotated[int, whole(1, MAX_REWARD_FEN)]
    members_only: bool = False


class RewardMade(Answer):
    id: int


class NewReferralPayout(Body):
    """How much of what is withdrawable to be paid out (more: 409 payout_too_large)."""

    amount_fen: Annotated[int, whole(1, 2**31 - 1)]


class ReferralPayout(Answer):
    id: int
    referrer_id: int
    amount_fen: int
    status: Literal["requested", "approved", "rejected"]
    requested_at: str
    decided_at: str | None


class ReferralPayouts(Answer):
    items: list[ReferralPayout]


class MyReferrals(Answer):
    """The caller's links with their numbers, and their reward money: balance (everything
    earned less reversals, payouts and requested payouts), withdrawable (past the refund
    period), pending (still within it)."""

    links: list[ShareLinkNumbers]
    balance_fen: int
    withdrawable_fen: int
    pending_fen: int
    payouts: Annotated[list[ReferralPayout], msgspec.Meta(description="the latest 20")]


class ReferralPayoutsQuery(Query):
    status: Literal["requested", "approved", "rejected"] = "requested"


class ReferralCounts(Answer):
    visits: int
    signups: int
    paid: int
    paid_fen: int


class ReferralSourceRow(ReferralCounts):
    source: str


class ReferrerCounts(ReferralCounts):
    referrer_id: int
    display_name: str
    owed_fen: Annotated[int, msgspec.Meta(description="earned and not paid out")]
    paid_out_fen: int


class ReferralFunnel(Answer):
    """Visits -> sign-ups -> paid purchases through share links, per source (link, poster,
    wechat) and per referrer, in the last `days` days (Asia/Shanghai)."""

    days: int
    sources: list[ReferralSourceRow]
    referrers: list[ReferrerCounts]


class ReferralFunnelQuery(Query):
    days: Annotated[int, whole(1, 366)] = 30
