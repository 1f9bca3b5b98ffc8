"""Every API endpoint refuses a caller whose consent is outstanding (403 consent_required),
but those accounts.consents.EXEMPT_API lists and the public ones: generated from the routing
table, so a new endpoint that finds its caller some other way (a statement of its own, as the
holds do) fails here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route

from accounts import consents, legal_documents
from composition import AppWiring
from store import services as store
from tests.conftest import database_kind
from tests.factories import bearer, make_user, make_window, token_for
from web.openapi import Operation

PARAM = re.compile(r"\{[^}]+\}")
SOME_ID = "1"
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ApiRoute:
    name: str
    path: str  # with its parameters filled in
    method: str
    auth: str | None


def api_routes(routes: list[BaseRoute], prefix: str = "", api: bool = False) -> list[ApiRoute]:
    found = []
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            found += api_routes(list(route.routes), prefix + route.path, api or route.name == "api")
        elif isinstance(route, Route) and api:
            spec: Operation | None = route.endpoint.__dict__.get("openapi_operation")
            for method in sorted(set(route.methods or ()) - {"HEAD"}):
                found.append(
                    ApiRoute(
                        name=route.name,
                        path=prefix + PARAM.sub(SOME_ID, route.path),
                        method=method,
                        auth=spec.auth if spec is not None else None,  # the API's document
                    )
                )
    return found


@pytest.mark.skipif(database_kind() == "postgres", reason="routing, not the database: once a run")
async def test_every_api_endpoint_refuses_a_caller_whose_consent_is_outstanding(
    client: httpx.AsyncClient, wired: AppWiring
) -> None:
    token = await token_for(await make_user())  # signed up before the documents were published
    # The two busiest writes find their caller in their own statement: plausible bodies, so
    # nothing but the caller could refuse them.
    product = await store.create_product(
        title="在售", description="", category="图书", price_fen=100, stock=5
    )
    window = await make_window(now=datetime.now(UTC))
    bodies: dict[str, object] = {
        "POST /api/v1/orders": {"items": [{"product_id": product.id, "quantity": 1}]},
        f"POST /api/v1/enrollment-windows/{window.id}/enrollments": {},
    }
    await legal_documents.publish("terms", "用户协议", "条款", by=None, now=NOW)
    await legal_documents.publish("privacy", "隐私政策", "隐私", by=None, now=NOW)
    routes = api_routes(wired.routes)
    assert len(routes) > 60
    routes.append(ApiRoute("membership.enroll", [*bodies][1].split()[1], "POST", "bearer"))
    let_through = []
    for route in routes:
        if route.path.startswith(consents.EXEMPT_API) or route.auth is None:
            continue  # exempt, or public (anyone may, signed in or not)
        answer = await client.request(
            route.method,
            route.path,
            json=bodies.get(f"{route.method} {route.path}", {}),
            headers=bearer(token),
            follow_redirects=False,
        )
        refused = answer.status_code == 403 and (
            answer.json().get("error", {}).get("code") == "consent_required"
        )
        if not refused:
            let_through.append(f"{route.method} {route.path} -> {answer.status_code}")
    assert let_through == []


@pytest.mark.skipif(database_kind() == "postgres", reason="routing, not the database: once a run")
async def test_the_public_endpoints_are_those_anyone_may_call_without_agreeing(
    wired: AppWiring,
) -> None:
    public = sorted(
        f"{r.method} {r.path}"
        for r in api_routes(wired.routes)
        if r.auth is None and not r.path.startswith(consents.EXEMPT_API)
    )
    # Signing up and in, their codes and resets, the document, and what a visitor reads.
    assert public == [
        "GET /api/v1/enrollment-windows/current",
        "GET /api/v1/openapi.json",
        "GET /api/v1/products",
        "POST /api/v1/accounts",
        "POST /api/v1/email-verifications/1",
        "POST /api/v1/login-codes",
        "POST /api/v1/phone-codes",
        "POST /api/v1/tokens",
        "POST /api/v1/tokens/phone",
    ]
