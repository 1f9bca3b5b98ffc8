"""The console's first section: the dashboard (the numbers of a range of days beside the period
before, charts drawn in the browser with ECharts), a sale's page (its funnel, and its live
state streamed over server-sent events while it sells)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.roles import Capability
from membership.models import EnrollmentWindow
from stats import funnels, live, schemas
from stats.api import chosen_range, funnel_json
from stats.report import report
from stats.rollups import NUMBERS
from store.models import Product
from tallies import shanghai_day
from web.api import iso
from web.auth import staff_only
from web.decoding import read_query
from web.rendering import render

# The live stream: a state every LIVE_EVERY seconds; after LIVE_SECONDS the server ends it and
# the browser's EventSource connects again (RETRY_MS later), so no connection lives forever.
LIVE_EVERY = 1.0
LIVE_SECONDS = 300
RETRY_MS = 3000
RECENT_SALES = 8
QUICK_RANGES = (7, 30, 90)  # the dashboard's links to the last so many days


def state_json(state: live.LiveState) -> dict[str, Any]:
    return {
        "kind": state.sale.kind.value,
        "id": state.sale.id,
        "at": iso(state.at),
        "opened": state.opened,
        "left": state.left,
        "holds": state.holds,
        "paid_per_minute": [{"at": iso(at), "paid": n} for at, n in state.paid],
    }


async def recent_sales() -> list[funnels.Sale]:
    """The last few windows and drops by opening, newest first: the funnels one may open."""
    windows = await EnrollmentWindow.all().order_by("-opens_at").limit(RECENT_SALES)
    drops = (
        await Product.filter(sale_starts_at__isnull=False)
        .order_by("-sale_starts_at")
        .limit(RECENT_SALES)
    )
    sales = [*map(funnels.window_sale, windows), *map(funnels.drop_sale, drops)]
    return sorted(sales, key=lambda sale: sale.opens_at, reverse=True)


def quick_ranges(today: date) -> list[tuple[int, date, date]]:
    """(days, first, last) for each of QUICK_RANGES, ending today."""
    return [(days, today - timedelta(days=days - 1), today) for days in QUICK_RANGES]


@staff_only(Capability.STATS)
async def dashboard(request: Request) -> Response:
    now = datetime.now(UTC)
    query = read_query(request, schemas.StatsQuery)
    first, last = chosen_range(query, now)
    numbers = await report(first, last)
    chart_data = {
        "days": [day["date"].isoformat() for day in numbers.days],
        "series": {name: [day[name] for day in numbers.days] for name in NUMBERS},
        "previous": {name: [day[name] for day in numbers.previous] for name in NUMBERS},
        "expiry_months": [
            {"month": month.isoformat()[:7], "members": n} for month, n in numbers.expiry_months
        ],
    }
    return await render(
        request,
        "stats/dashboard.html",
        {
            "report": numbers,
            "chart_data": chart_data,
            "live_sales": await live.live_sales(now),
            "recent_sales": await recent_sales(),
            "quick_ranges": quick_ranges(shanghai_day(now)),
            "query": query,
        },
    )


@staff_only(Capability.STATS)
async def sale_page(request: Request) -> Response:
    """A sale's funnel around its opening, and its live state while it sells."""
    now = datetime.now(UTC)
    kind, sale_id = request.path_params["kind"], request.path_params["id"]
    funnel = await funnels.funnel(kind, sale_id)
    state = await live.live_state(kind, sale_id, now)
    return await render(
        request,
        "stats/sale.html",
        {
            "funnel": funnel,
            "funnel_data": funnel_json(funnel),
            "state": state,
            "state_data": state_json(state),
            "streams": await live.worth_streaming(state),
        },
    )


@staff_only(Capability.STATS)
async def live_events(request: Request) -> Response:
    """The sale's live state as server-sent events ("state"), one every LIVE_EVERY seconds
    for LIVE_SECONDS; 404 for a sale that does not exist (before any stream starts)."""
    kind, sale_id = request.path_params["kind"], request.path_params["id"]
    await funnels.find_sale(kind, sale_id)

    async def states() -> AsyncIterator[dict[str, Any]]:
        ends = time.monotonic() + LIVE_SECONDS
        while True:
            state = await live.live_state(kind, sale_id, datetime.now(UTC))
            yield {"event": "state", "data": json.dumps(state_json(state)), "retry": RETRY_MS}
            if time.monotonic() >= ends:
                return
            await asyncio.sleep(LIVE_EVERY)

    return EventSourceResponse(
        states(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/dashboard", dashboard, methods=["GET"], name="stats.dashboard"),
        Route(
            "/admin/dashboard/sales/{kind:str}/{id:id}",
            sale_page,
            methods=["GET"],
            name="stats.sale",
        ),
        Route(
            "/admin/dashboard/sales/{kind:str}/{id:id}/live",
            live_events,
            methods=["GET"],
            name="stats.live_events",
        ),
    ]
