"""Every console route, page and API, is guarded by its capability: generated from the routing
table, so a new route under /admin or /api/v1/admin without `staff_only` fails here."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from accounts.roles import StaffRole, role_may
from composition import AppWiring
from tests.conftest import database_kind
from tests.factories import bearer, csrf_from, make_user, sign_in, token_for

PARAM = re.compile(r"\{[^}]+\}")
MISSING_ID = "999999"


@dataclass(frozen=True)
class ConsoleRoute:
    name: str
    path: str  # with its parameters filled in
    methods: tuple[str, ...]
    capability: str | None
    api: bool


def console_routes(
    routes: list[BaseRoute], prefix: str = "", api: bool = False
) -> list[ConsoleRoute]:
    found = []
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            found += console_routes(list(route.routes), prefix + route.path, route.name == "api")
        elif isinstance(route, Route):
            tail = route.path
            if not (tail == "/admin" or tail.startswith("/admin/")):
                continue
            methods = tuple(sorted(set(route.methods or ()) - {"HEAD"}))
            found.append(
                ConsoleRoute(
                    name=route.name,
                    path=prefix + PARAM.sub(MISSING_ID, tail),
                    methods=methods,
                    capability=getattr(route.endpoint, "staff_capability", None),
                    api=api,
                )
            )
    return found


def test_every_console_route_carries_a_staff_guard(wired: AppWiring) -> None:
    routes = console_routes(wired.routes)
    assert len(routes) > 20
    assert [r.name for r in routes if r.capability is None] == []


@dataclass
class Caller:
    role: StaffRole | None
    page: httpx.AsyncClient
    csrf: str
    token: str


@pytest.mark.skipif(database_kind() == "postgres", reason="routing, not the database: once a run")
async def test_each_role_gets_exactly_the_console_routes_its_capabilities_open(
    app: Starlette, wired: AppWiring
) -> None:
    transport = httpx.ASGITransport(app=app)
    callers: list[Caller] = []
    try:
        for role in [None, *StaffRole]:
            user = await make_user(role=role.value if role else None)
            page = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            await sign_in(page, user.email)
            csrf = csrf_from((await page.get("/account")).text)
            callers.append(Caller(role, page, csrf, await token_for(user)))
        anonymous = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        anonymous_csrf = csrf_from((await anonymous.get("/account/login")).text)
        wrong: list[str] = []
        for route in console_routes(wired.routes):
            for method in route.methods:
                where = f"{method} {route.path} ({route.name})"
                answer = await anonymous.request(
                    method, route.path, headers={"X-CSRF-Token": anonymous_csrf}
                )
                if route.api and answer.status_code != 401:
                    wrong.append(f"anonymous {where}: {answer.status_code}, not 401")
                if not route.api and (
                    answer.status_code != 303 or "/account/login" not in answer.headers["location"]
                ):
                    wrong.append(f"anonymous {where}: {answer.status_code}, not 303 to sign in")
                for caller in callers:
                    headers = bearer(caller.token) if route.api else {"X-CSRF-Token": caller.csrf}
                    client = anonymous if route.api else caller.page
                    answer = await client.request(method, route.path, headers=headers)
                    allowed = role_may(caller.role, route.capability or "")
                    status = answer.status_code
                    who = caller.role or "member"
                    if allowed and (status in (401, 403) or status >= 500):
                        wrong.append(f"{who} {where}: {status}, though the role may")
                    if not allowed and status != 403:
                        wrong.append(f"{who} {where}: {status}, not 403")
        assert not wrong, "\n".join(wrong)
    finally:
        for caller in callers:
            await caller.page.aclose()


def test_the_api_document_names_each_console_operations_capability(app: Starlette) -> None:
    """The contract says which capability each staff operation asks for, read from the guard
    (not written a second time beside it)."""
    from web.api import openapi_document

    document = openapi_document(app.routes)
    guarded = {
        (path, method): operation.get("x-staff-capability")
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/admin")
        for method, operation in item.items()
    }
    assert guarded and all(guarded.values()), guarded
    assert guarded[("/api/v1/admin/staff/{user_id}", "put")] == "staff"
    assert guarded[("/api/v1/admin/orders/{id}/refund", "post")] == "refund"
