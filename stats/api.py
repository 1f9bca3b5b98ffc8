"""The numbers' JSON API (staff whose role grants the numbers): the days, and a funnel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.roles import Capability
from errors import ValidationError
from stats import funnels, schemas
from stats.report import report
from tallies import shanghai_day
from web.api import iso, json_response, operation, read_query
from web.auth import staff_only

DEFAULT_DAYS = 30


def chosen_range(query: schemas.StatsQuery, now: datetime) -> tuple[date, date]:
    """The query's days; a missing end is chosen as StatsQuery says. ValidationError for a
    day the calendar lacks."""

    def parse(name: str, text: str) -> date | None:
        try:
            return date.fromisoformat(text) if text else None
        except ValueError:  # the pattern lets 2026-02-30 through
            raise ValidationError(name, "is not a day of the calendar") from None

    first, last = parse("from", query.from_), parse("to", query.to)
    span = timedelta(days=DEFAULT_DAYS - 1)
    if first is None and last is None:
        last = shanghai_day(now)
    if first is None:
        assert last is not None
        first = last - span
    if last is None:
        last = first + span
    return first, last


def day_json(day: dict[str, Any]) -> dict[str, Any]:
    return {**day, "date": day["date"].isoformat()}


@operation(
    "The numbers per Asia/Shanghai day for a range (at most 366 days), with the period "
    "before it (admins)",
    query=schemas.StatsQuery,
    answer=schemas.Stats,
    tag="console",
    errors={422: "invalid_field"},
)
@staff_only(Capability.STATS)
async def stats(request: Request) -> Response:
    first, last = chosen_range(read_query(request, schemas.StatsQuery), datetime.now(UTC))
    numbers = await report(first, last)
    return json_response(
        {
            "days": [day_json(day) for day in numbers.days],
            "previous": [day_json(day) for day in numbers.previous],
            "refreshed_at": iso(numbers.refreshed_at) if numbers.refreshed_at else None,
        }
    )


def funnel_json(funnel: funnels.Funnel) -> dict[str, Any]:
    return {
        "kind": funnel.sale.kind.value,
        "id": funnel.sale.id,
        "title": funnel.sale.title,
        "opens_at": iso(funnel.sale.opens_at),
        "minutes": [
            {"at": iso(m.at), "viewed": m.viewed, "held": m.held, "paid": m.paid}
            for m in funnel.minutes
        ],
    }


@operation(
    "A window's or a drop's opening, minute by minute: viewed, held, paid (admins)",
    answer=schemas.Funnel,
    tag="console",
    errors={404: "window_not_found, product_not_found"},
    path={"kind": {"type": "string", "enum": [kind.value for kind in funnels.SaleKind]}},
)
@staff_only(Capability.STATS)
async def funnel(request: Request) -> Response:
    found = await funnels.funnel(request.path_params["kind"], request.path_params["id"])
    return json_response(funnel_json(found))


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/stats", stats, methods=["GET"], name="stats.stats"),
        Route("/admin/funnels/{kind:str}/{id:id}", funnel, methods=["GET"], name="stats.funnel"),
    ]
