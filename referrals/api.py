"""Referrals' JSON API: a member's share links, their numbers and payouts; admins' reward rules,
payouts and funnel (Capability.REWARDS). The pages (referrals.routes) are its twins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.roles import Capability
from errors import ValidationError
from referrals import ledger, numbers, reward_rules, schemas, share_links
from referrals.models import Payout, PayoutStatus
from web.api import iso, json_response, operation, read_json, read_query
from web.auth import api_user, staff_member, staff_only


def link_answer(link: Any) -> dict[str, Any]:
    return {
        "code": link.code,
        "url": share_links.short_url(link),
        "poster_url": share_links.poster_url(link),
    }


def payout_json(payout: Payout) -> dict[str, Any]:
    return {
        "id": payout.id,
        "referrer_id": payout.referrer_id,
        "amount_fen": payout.amount_fen,
        "status": payout.status.value,
        "requested_at": iso(payout.requested_at),
        "decided_at": iso(payout.decided_at),
    }


@operation(
    "Share a feed item, a board post, a product (a drop too) or the enrollment window: the "
    "caller's own short link to it (the same one each time) and its poster",
    body=schemas.NewShareLink,
    answer=schemas.ShareLinkMade,
    status=201,
    tag="referrals",
    errors={404: "not_found"},
)
async def create_share_link(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.NewShareLink)
    link = await share_links.link_for(user, data.object_type, data.object_id, datetime.now(UTC))
    return json_response(link_answer(link), 201)


async def my_numbers(user: Any, now: datetime) -> dict[str, Any]:
    rows = await numbers.my_links(user)
    money = await ledger.balance(user.id, now=now)
    return {
        "links": [
            {
                **{
                    key: value
                    for key, value in link_answer(row.link).items()
                    if key != "poster_url"
                },
                "visits": row.visits,
                "signups": row.signups,
                "paid": row.paid,
                "object_type": row.link.object_type.value,
                "object_id": row.link.object_id,
            }
            for row in rows
        ],
        "balance_fen": money.balance_fen,
        "withdrawable_fen": money.withdrawable_fen,
        "pending_fen": money.pending_fen,
        "payouts": [
            payout_json(p)
            for p in await Payout.filter(referrer_id=user.id).order_by("-requested_at").limit(20)
        ],
    }


@operation(
    "The caller's share links with their visits, sign-ups and paid purchases, and their "
    "reward money",
    answer=schemas.MyReferrals,
    tag="referrals",
)
async def my_referrals(request: Request) -> Response:
    user = await api_user(request)
    return json_response(await my_numbers(user, datetime.now(UTC)))


@operation(
    "Ask for part of what is withdrawable to be paid out (an admin approves it and pays "
    "outside the app)",
    body=schemas.NewReferralPayout,
    answer=schemas.ReferralPayout,
    status=201,
    tag="referrals",
    errors={409: "payout_too_large"},
)
async def request_payout(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.NewReferralPayout)
    payout = await ledger.request_payout(user.id, data.amount_fen, datetime.now(UTC))
    return json_response(payout_json(payout), 201)


def _rule_field(exc: ValidationError) -> ValidationError:
    """A rule's fields as the API names them (applies_to.kind, applies_to.id)."""
    renamed = {"applies_kind": "applies_to.kind", "applies_id": "applies_to.id"}
    if exc.field in renamed:
        return ValidationError(renamed[exc.field], exc.reason)
    return exc


@operation(
    "Set the reward for the referrer of each paid purchase of a product or the enrollment "
    "window (it replaces the thing's reward, if any)",
    body=schemas.NewReward,
    answer=schemas.RewardMade,
    status=201,
    tag="referrals",
    errors={409: "rule_changed", 422: "invalid_field"},
)
@staff_only(Capability.REWARDS)
async def set_reward(request: Request) -> Response:
    data = await read_json(request, schemas.NewReward)
    try:
        rule = await reward_rules.set_rule(
            applies_kind=data.applies_to.kind,
            applies_id=data.applies_to.id,
            kind=data.kind,
            value=data.value,
            members_only=data.members_only,
            actor=staff_member(request),
            now=datetime.now(UTC),
        )
    except ValidationError as exc:
        raise _rule_field(exc) from None
    return json_response({"id": rule.id}, 201)


@operation(
    "Payout requests by status (requested: the oldest first; decided: the latest first)",
    query=schemas.ReferralPayoutsQuery,
    answer=schemas.ReferralPayouts,
    tag="referrals",
)
@staff_only(Capability.REWARDS)
async def list_payouts(request: Request) -> Response:
    status = PayoutStatus(read_query(request, schemas.ReferralPayoutsQuery).status)
    order = "requested_at" if status == PayoutStatus.REQUESTED else "-decided_at"
    rows = await Payout.filter(status=status).order_by(order, "id").limit(500)
    return json_response({"items": [payout_json(p) for p in rows]})


@operation(
    "Record that a requested payout was paid (outside the app)",
    answer=schemas.ReferralPayout,
    tag="referrals",
    errors={403: "own_payout", 404: "not_found", 409: "payout_decided"},
)
@staff_only(Capability.REWARDS)
async def approve_payout(request: Request) -> Response:
    payout = await ledger.approve_payout(
        request.path_params["id"], actor=staff_member(request), now=datetime.now(UTC)
    )
    return json_response(payout_json(payout))


@operation(
    "Refuse a requested payout: its amount is withdrawable again",
    answer=schemas.ReferralPayout,
    tag="referrals",
    errors={403: "own_payout", 404: "not_found", 409: "payout_decided"},
)
@staff_only(Capability.REWARDS)
async def reject_payout(request: Request) -> Response:
    payout = await ledger.reject_payout(
        request.path_params["id"], actor=staff_member(request), now=datetime.now(UTC)
    )
    return json_response(payout_json(payout))


def funnel_json(funnel: numbers.Funnel) -> dict[str, Any]:
    def counts(row: numbers.FunnelCounts) -> dict[str, int]:
        return {
            "visits": row.visits,
            "signups": row.signups,
            "paid": row.paid,
            "paid_fen": row.paid_fen,
        }

    return {
        "days": funnel.days,
        "sources": [{"source": name, **counts(row)} for name, row in funnel.sources.items()],
        "referrers": [
            {
                "referrer_id": row.referrer_id,
                "display_name": row.display_name,
                **counts(row),
                "owed_fen": row.owed_fen,
                "paid_out_fen": row.paid_out_fen,
            }
            for row in funnel.referrers
        ],
    }


@operation(
    "Visits -> sign-ups -> paid purchases through share links, per source and per referrer, "
    "with rewards owed and paid out",
    query=schemas.ReferralFunnelQuery,
    answer=schemas.ReferralFunnel,
    tag="referrals",
)
@staff_only(Capability.REWARDS)
async def referral_funnel(request: Request) -> Response:
    days = read_query(request, schemas.ReferralFunnelQuery).days
    return json_response(funnel_json(await numbers.funnel(now=datetime.now(UTC), days=days)))


def routes() -> list[BaseRoute]:
    payout = "/admin/referrals/payouts/{id:id}"
    return [
        Route("/share-links", create_share_link, methods=["POST"], name="referrals.create_link"),
        Route("/me/referrals", my_referrals, methods=["GET"], name="referrals.mine"),
        Route("/me/referrals/payouts", request_payout, methods=["POST"], name="referrals.payout"),
        Route("/admin/rewards", set_reward, methods=["POST"], name="referrals.set_reward"),
        Route("/admin/referrals/payouts", list_payouts, methods=["GET"], name="referrals.payouts"),
        Route(f"{payout}/approve", approve_payout, methods=["POST"], name="referrals.approve"),
        Route(f"{payout}/reject", reject_payout, methods=["POST"], name="referrals.reject"),
        Route("/admin/referrals/funnel", referral_funnel, methods=["GET"], name="referrals.funnel"),
    ]
