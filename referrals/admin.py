"""The console's referral page (Capability.REWARDS, /admin/referrals): the rewards set per product
and for the enrollment window (set one, retire one), payout requests to approve (paid outside
the app) or refuse, the funnel through share links per source and per referrer, and the
ledger's export for a tax year. The JSON API (referrals.api) is its twin."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts import audit
from accounts.roles import Capability
from errors import DomainError
from membership.models import EnrollmentWindow
from referrals import ledger, numbers, reward_rules
from referrals.models import Payout, PayoutStatus, RewardRule, RuleAppliesTo
from referrals.tax_export import EXPORT_COLUMNS, export_rows
from store.models import Product
from tallies import shanghai_day
from web.api import DB_INT_MAX, Query, read_query, whole
from web.auth import refuse_cross_site, staff_member, staff_only
from web.csrf import read_form
from web.errors import form_refused
from web.forms import csv_download, field_errors
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render

FUNNEL_DAYS = (7, 30, 90)


class PageQuery(Query):
    days: Annotated[int, whole(1, 366)] = 30


class ExportQuery(Query):
    year: Annotated[int, whole(2000, 2100)]


async def _thing_names(rules: list[RewardRule]) -> dict[int, str]:
    products = [r.applies_id for r in rules if r.applies_kind == RuleAppliesTo.PRODUCT]
    windows = [r.applies_id for r in rules if r.applies_kind == RuleAppliesTo.WINDOW]
    titles = (
        dict(await Product.filter(id__in=products).values_list("id", "title")) if products else {}
    )
    names = (
        dict(await EnrollmentWindow.filter(id__in=windows).values_list("id", "name"))
        if windows
        else {}
    )
    return {
        rule.id: str(
            (titles if rule.applies_kind == RuleAppliesTo.PRODUCT else names).get(
                rule.applies_id, ""
            )
        )
        for rule in rules
    }


async def _context(request: Request, days: int, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    rules = await RewardRule.filter(active_key__not_isnull=True).order_by("-created_at").limit(500)
    requested = (
        await Payout.filter(status=PayoutStatus.REQUESTED)
        .order_by("requested_at", "id")
        .limit(200)
        .select_related("referrer")
    )
    return {
        "console_section": "referrals",
        "rules": rules,
        "rule_names": await _thing_names(rules),
        "products": await Product.filter(published=True).order_by("-created_at").limit(200),
        "windows": await EnrollmentWindow.all().order_by("-opens_at").limit(20),
        "requested": requested,
        "funnel": await numbers.funnel(now=now, days=days),
        "days": days,
        "funnel_days": FUNNEL_DAYS,
        "this_year": shanghai_day(now).year,
        "errors": {},
        "values": {},
        **extra,
    }


@staff_only(Capability.REWARDS)
async def referrals_page(request: Request) -> Response:
    days = read_query(request, PageQuery).days
    return await render(request, "referrals/admin.html", await _context(request, days))


def _whole(text: str, most: int) -> int:
    """A whole number typed in a form, or -1 (refused by the rule's checks with a message)."""
    if not re.fullmatch(r"[0-9]{1,10}", text) or int(text) > most:
        return -1
    return int(text)


@staff_only(Capability.REWARDS)
async def set_reward(request: Request) -> Response:
    form = await read_form(request)
    target = str(form.get("applies_to", ""))[:30]
    applies_kind, _, applies_id = target.partition(":")
    value = str(form.get("value", "")).strip()[:12]
    values = {
        key: str(form.get(key, ""))[:30] for key in ("applies_to", "kind", "value", "members_only")
    }
    try:
        await reward_rules.set_rule(
            applies_kind=applies_kind,
            applies_id=_whole(applies_id, DB_INT_MAX),
            kind=str(form.get("kind", ""))[:10],
            value=_whole(value, reward_rules.MAX_REWARD_FEN),
            members_only=form.get("members_only") == "1",
            actor=staff_member(request),
            now=datetime.now(UTC),
        )
    except DomainError as exc:
        errors = field_errors(exc)
        for field in ("applies_kind", "applies_id"):  # the form's one choice of a thing
            if field in errors:
                errors["applies_to"] = errors.pop(field)
        context = await _context(request, 30, errors=errors, values=values)
        return await form_refused(request, "referrals/admin.html", context, exc)
    flash(request, gettext_for(request)("Reward saved."), "success")
    return redirect_after_post(request, links.path("referrals.admin.page"))


@staff_only(Capability.REWARDS)
async def retire_reward(request: Request) -> Response:
    await read_form(request)
    on_error_back(request, links.path("referrals.admin.page"))
    await reward_rules.retire_rule(
        request.path_params["id"], actor=staff_member(request), now=datetime.now(UTC)
    )
    flash(request, gettext_for(request)("Reward stopped."), "success")
    return redirect_after_post(request, links.path("referrals.admin.page"))


async def _decide(request: Request, approve: bool) -> Response:
    await read_form(request)
    on_error_back(request, links.path("referrals.admin.page"))
    decide = ledger.approve_payout if approve else ledger.reject_payout
    await decide(request.path_params["id"], actor=staff_member(request), now=datetime.now(UTC))
    _ = gettext_for(request)
    flash(request, _("Payout recorded as paid.") if approve else _("Payout refused."), "success")
    return redirect_after_post(request, links.path("referrals.admin.page"))


@staff_only(Capability.REWARDS)
async def approve_payout(request: Request) -> Response:
    """Record that a requested payout was paid (outside the app)."""
    return await _decide(request, approve=True)


@staff_only(Capability.REWARDS)
async def reject_payout(request: Request) -> Response:
    return await _decide(request, approve=False)


@staff_only(Capability.REWARDS)
async def ledger_csv(request: Request) -> Response:
    """The ledger of a tax year (Asia/Shanghai) with each referrer's totals, as CSV read a batch
    at a time; the export is itself an audit entry ("export.referral_ledger")."""
    refuse_cross_site(request)
    year = read_query(request, ExportQuery).year
    await audit.record(
        actor=staff_member(request),
        action="export.referral_ledger",
        object_type="referral_ledger",
        after={"filters": {"year": year}},
        now=datetime.now(UTC),
    )
    return csv_download(f"referral-ledger-{year}.csv", EXPORT_COLUMNS, export_rows(year))


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/referrals", referrals_page, methods=["GET"], name="referrals.admin.page"),
        Route("/admin/referrals/rewards", set_reward, methods=["POST"], name="referrals.admin.set"),
        Route(
            "/admin/referrals/rewards/{id:id}/retire",
            retire_reward,
            methods=["POST"],
            name="referrals.admin.retire",
        ),
        Route(
            "/admin/referrals/payouts/{id:id}/approve",
            approve_payout,
            methods=["POST"],
            name="referrals.admin.approve",
        ),
        Route(
            "/admin/referrals/payouts/{id:id}/reject",
            reject_payout,
            methods=["POST"],
            name="referrals.admin.reject",
        ),
        Route(
            "/admin/referrals/ledger.csv", ledger_csv, methods=["GET"], name="referrals.admin.csv"
        ),
    ]
