"""The composition root: two apps built in one process with different settings each see only
their own wiring (letterhead, payment purposes, notice kinds, memories), request by request;
and no module wires anything when it is imported."""

from __future__ import annotations

import ast
import asyncio
import contextvars
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import links
from accounts import leaving as accounts_leaving
from accounts import notices
from accounts.models import OutboxMessage
from app import create_app
from community import notices as community_notices
from crm import notices as crm_notices
from membership import notices as membership_notices
from moderation import notices as moderation_notices
from payments.models import Payment
from payments.purposes import PURPOSES, Fulfilment, PurposeHandlers
from privacy import notices as privacy_notices
from settings import Settings
from store import notices as store_notices
from support import notices as support_notices
from tests.factories import PASSWORD
from wiring import NotWired

ROOT = Path(__file__).resolve().parent.parent
# Every notice kind the packages declare (composition.wire registers them all, in each app).
KINDS = sum(
    len(kinds)
    for kinds in (
        notices.KINDS,
        community_notices.KINDS,
        store_notices.KINDS,
        membership_notices.KINDS,
        crm_notices.KINDS,
        support_notices.KINDS,
        moderation_notices.KINDS,
        privacy_notices.KINDS,
        accounts_leaving.KINDS,
    )
)
VERIFY_LINK = re.compile(r"(https?://[^/\s]+)/account/verify/(\S+)")


async def _fulfil(payment: Payment, now: datetime) -> Fulfilment:
    return Fulfilment.FULFILLED


async def _what_this_request_sees(request: Request) -> Response:
    """A probe route added by the test: the wiring as the code under a request reads it."""
    await asyncio.sleep(0)  # let the other app's requests interleave with this one
    return JSONResponse(
        {
            "public_url": links.LINKS.get().public_url,
            "purposes": PURPOSES.get().names(),
            "kinds": len(notices.kinds()),
            "memory": id(request.app.state.memory),
        }
    )


@pytest.fixture
async def two_apps(settings: Settings) -> AsyncIterator[tuple[Starlette, Starlette]]:
    built = []
    for name in ("a", "b"):
        app = create_app(
            dataclasses.replace(
                settings, public_url=f"http://{name}.test", secret_key=f"{name}-secret-" + "k" * 32
            ),
            manage_database=False,
            background_tasks=False,
        )
        app.router.routes.append(Route("/_wiring", _what_this_request_sees))
        built.append(app)
    yield built[0], built[1]
    for app in built:
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()
        app.state.pictures.close()


def _client(app: Starlette, host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}")


async def test_two_apps_in_one_process_see_only_their_own_wiring(
    two_apps: tuple[Starlette, Starlette],
) -> None:
    app_a, app_b = two_apps
    app_a.state.wiring.purposes.register("only_in_a", PurposeHandlers(fulfil=_fulfil))
    assert app_a.state.memory is not app_b.state.memory
    async with _client(app_a, "a.test") as a, _client(app_b, "b.test") as b:
        answers = await asyncio.gather(
            *(client.get("/_wiring") for _ in range(20) for client in (a, b))
        )
    seen_by_a = [r.json() for r in answers[0::2]]
    seen_by_b = [r.json() for r in answers[1::2]]
    assert all(
        seen
        == {
            "public_url": "http://a.test",
            "purposes": ["membership", "only_in_a", "order"],
            "kinds": KINDS,
            "memory": id(app_a.state.memory),
        }
        for seen in seen_by_a
    ), seen_by_a[:2]
    assert all(
        seen
        == {
            "public_url": "http://b.test",
            "purposes": ["membership", "order"],
            "kinds": KINDS,
            "memory": id(app_b.state.memory),
        }
        for seen in seen_by_b
    ), seen_by_b[:2]


async def test_each_apps_mail_links_to_its_own_address_signed_with_its_own_key(
    two_apps: tuple[Starlette, Starlette],
) -> None:
    app_a, app_b = two_apps
    links = {}
    async with _client(app_a, "a.test") as a, _client(app_b, "b.test") as b:
        for name, client in (("a", a), ("b", b)):
            response = await client.post(
                "/api/v1/accounts",
                json={"email": f"{name}@example.cn", "password": PASSWORD, "display_name": name},
            )
            assert response.status_code == 201, response.text
            mail = await OutboxMessage.get(recipient=f"{name}@example.cn")
            match = VERIFY_LINK.search(mail.text)
            assert match, mail.text
            links[name] = match
        assert links["a"].group(1) == "http://a.test"
        assert links["b"].group(1) == "http://b.test"
        # A's link is signed with A's key: B does not take it, A does.
        wrong = await b.post(f"/api/v1/email-verifications/{links['a'].group(2)}")
        assert wrong.status_code == 404
        assert wrong.json()["error"]["code"] == "verification_not_found"
        right = await a.post(f"/api/v1/email-verifications/{links['a'].group(2)}")
        assert right.status_code == 204


def test_code_outside_any_app_reads_no_wiring() -> None:
    """In a context nothing bound (no app, no command, no test's fixture) a wire says so by
    name: importing the modules bound nothing."""

    def read() -> str:
        try:
            PURPOSES.get()
        except NotWired as exc:
            return str(exc)
        return "wired"

    assert "payments.purposes is not wired" in contextvars.Context().run(read)


def test_no_module_of_the_application_rebinds_a_global() -> None:
    """Wiring is held by apps: no module keeps state it rebinds with `global`."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("tests", "bench", "migrations", "devserver", ".venv", "var", "build"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{rel}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Global)]
    assert offenders == []
