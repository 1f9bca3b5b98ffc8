"""Leaving's JSON API under /api/v1/me/deletion: the state, a code to prove it is you, the
request (202) and its undo (200). GET and DELETE also answer the one token a cancelled
account keeps (accounts.leaving); every other endpoint refuses it (403 account_leaving)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts import leaving as account_leaving
from accounts import services
from privacy import leaving, leaving_schemas
from web.api import iso, json_response, operation, read_json
from web.auth import api_user, bearer_token
from web.i18n import api_locale


def _kept_digest(request: Request) -> str | None:
    token = bearer_token(request)
    return services.token_digest(token) if token else None


@operation(
    "Whether the caller's account is being cancelled, how it proves it is theirs, and what "
    "is explained first (orders owed and held, a membership's days left)",
    answer=leaving_schemas.DeletionState,
    tag="privacy",
)
async def deletion_state(request: Request) -> Response:
    now = datetime.now(UTC)
    user = await account_leaving.leaving_caller(bearer_token(request), now=now)
    explained = await leaving.before_leaving(user, now=now)
    way = await account_leaving.proof_way(user)
    return json_response(
        {
            "erase_after": iso(user.erase_after),
            "proof": way.kind.value,
            "proof_to": way.where,
            "owed_orders": [order.id for order in explained.owed],
            "held_orders": [order.id for order in explained.held],
            "member_until": iso(explained.member_until),
        }
    )


@operation(
    "Send a one-time code that proves it is you (an account without a password): by mail to "
    "its verified address, else by SMS to its phone number; it works once, for 15 minutes",
    answer=leaving_schemas.DeletionCodeSent,
    status=202,
    tag="privacy",
    errors={409: "password_proves, no_way_to_prove", 429: "rate_limited"},
)
async def send_deletion_code(request: Request) -> Response:
    user = await api_user(request)
    settings = request.app.state.settings
    way = await account_leaving.send_code(
        user,
        now=datetime.now(UTC),
        locale=api_locale(request),
        counter=request.app.state.counter,
        sender=request.app.state.sms_sender if settings.sms is not None else None,
        sms_budget=settings.sms_daily_budget,
    )
    return json_response({"sent_to": way.kind.value, "where": way.where}, 202)


@operation(
    "Cancel the caller's account (注销), proven with its password (or, without one, a code "
    "from POST /me/deletion/code; a WeChat-only account: a token made by signing in with "
    "WeChat at most 10 minutes before): every other session and token ends now; this token "
    "answers only GET and DELETE /me/deletion; signing in again before `erase_after` undoes it",
    body=leaving_schemas.DeletionRequest,
    answer=leaving_schemas.DeletionAsked,
    status=202,
    tag="privacy",
    errors={
        403: "wrong_proof, sign_in_again",
        409: "open_orders, already_leaving, no_way_to_prove",
        429: "rate_limited",
    },
)
async def ask_deletion(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, leaving_schemas.DeletionRequest)
    erase_after = await leaving.leave(
        user,
        password=data.password,
        code=data.code,
        now=datetime.now(UTC),
        days=request.app.state.settings.leaving_days,
        counter=request.app.state.counter,
        provider=request.app.state.payments_provider,
        memory=request.app.state.memory.store,
        keep_token_digest=_kept_digest(request),
    )
    return json_response({"erase_after": iso(erase_after)}, 202)


@operation(
    "Undo the caller's cancellation during its cooling-off: the account stays, this token "
    "works everywhere again",
    answer=leaving_schemas.DeletionUndone,
    tag="privacy",
    errors={409: "not_leaving"},
)
async def undo_deletion(request: Request) -> Response:
    now = datetime.now(UTC)
    user = await account_leaving.leaving_caller(bearer_token(request), now=now)
    await account_leaving.undo_leaving(user, now=now, keep_token_digest=_kept_digest(request))
    return json_response({"erase_after": None})


def routes() -> list[BaseRoute]:
    return [
        Route("/me/deletion", deletion_state, methods=["GET"], name="privacy.deletion_state"),
        Route("/me/deletion", ask_deletion, methods=["POST"], name="privacy.ask_deletion"),
        Route("/me/deletion", undo_deletion, methods=["DELETE"], name="privacy.undo_deletion"),
        Route(
            "/me/deletion/code",
            send_deletion_code,
            methods=["POST"],
            name="privacy.send_deletion_code",
        ),
    ]
