"""Accounts' JSON API: registration, bearer tokens, the caller's profile and inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accounts import services
from accounts.models import Notification, User
from web.api import Field, Schema, iso, json_response, operation, read_json
from web.auth import api_user, bearer_token, client_address

REGISTRATION = Schema(
    {
        "email": Field("email", max_length=254),
        "password": Field(
            "password",
            min_length=services.MIN_PASSWORD_LENGTH,
            max_length=services.MAX_PASSWORD_LENGTH,
        ),
        "display_name": Field("string", min_length=1, max_length=services.MAX_DISPLAY_NAME_LENGTH),
    }
)
CREDENTIALS = Schema(
    {
        "email": Field("string", max_length=254),
        "password": Field("string", max_length=services.MAX_PASSWORD_LENGTH),
        "name": Field(
            "string",
            required=False,
            max_length=80,
            description="a label for the token, e.g. the device",
        ),
    }
)
PASSWORD_CHANGE = Schema(
    {
        "current_password": Field("string", max_length=services.MAX_PASSWORD_LENGTH),
        "new_password": Field(
            "password",
            min_length=services.MIN_PASSWORD_LENGTH,
            max_length=services.MAX_PASSWORD_LENGTH,
        ),
    }
)


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "display_name": user.display_name}


def notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "message": notification.message,
        "link": notification.link,
        "created_at": iso(notification.created_at),
        "read": notification.read_at is not None,
    }


@operation(
    "Register an account",
    body=REGISTRATION,
    auth=None,
    tag="accounts",
    responses={201: "the account", 409: "email_taken", 422: "a field is invalid"},
)
async def create_account(request: Request) -> Response:
    data = await read_json(request, REGISTRATION)
    user = await services.register(
        email=data["email"], password=data["password"], display_name=data["display_name"]
    )
    return json_response(user_json(user), 201)


@operation(
    "Exchange email and password for a bearer token",
    body=CREDENTIALS,
    auth=None,
    tag="accounts",
    responses={201: "{token}", 401: "bad_credentials", 429: "rate_limited"},
)
async def create_token(request: Request) -> Response:
    data = await read_json(request, CREDENTIALS)
    user = await services.authenticate(
        email=data["email"],
        password=data["password"],
        address=client_address(request),
        counter=request.app.state.counter,
    )
    token = await services.issue_token(user, name=data.get("name") or "api")
    return json_response({"token": token}, 201)


@operation(
    "Revoke the bearer token this request carries",
    tag="accounts",
    responses={204: "revoked", 401: "unauthorized"},
)
async def revoke_current_token(request: Request) -> Response:
    await api_user(request)
    token = bearer_token(request)
    assert token is not None
    await services.revoke_token(token, now=datetime.now(UTC))
    return Response(status_code=204)


@operation(
    "The caller's account", tag="accounts", responses={200: "the account", 401: "unauthorized"}
)
async def me(request: Request) -> Response:
    user = await api_user(request)
    return json_response(
        {**user_json(user), "is_admin": user.is_admin, "member_until": iso(user.member_until)}
    )


@operation(
    "Change the caller's password; every token is revoked and a new one returned",
    body=PASSWORD_CHANGE,
    tag="accounts",
    responses={200: "{token}", 401: "bad_credentials", 422: "a field is invalid"},
)
async def change_password(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, PASSWORD_CHANGE)
    await services.change_password(
        user,
        current_password=data["current_password"],
        new_password=data["new_password"],
        now=datetime.now(UTC),
    )
    return json_response({"token": await services.issue_token(user, name="api")})


@operation(
    "The caller's notifications, newest first",
    tag="accounts",
    responses={200: "{items, unread, next_cursor}", 401: "unauthorized"},
)
async def notifications(request: Request) -> Response:
    user = await api_user(request)
    cursor = request.query_params.get("cursor")
    before_id = int(cursor) if cursor and cursor.isdigit() else None
    page = await services.list_notifications(user, limit=30, before_id=before_id)
    return json_response(
        {
            "items": [notification_json(n) for n in page],
            "unread": await services.unread_count(user),
            "next_cursor": str(page[-1].id) if len(page) == 30 else None,
        }
    )


@operation(
    "Mark one notification read",
    tag="accounts",
    responses={204: "marked", 401: "unauthorized", 404: "not_found"},
)
async def read_notification(request: Request) -> Response:
    user = await api_user(request)
    await services.mark_read(user, request.path_params["id"], now=datetime.now(UTC))
    return Response(status_code=204)


routes = [
    Route("/accounts", create_account, methods=["POST"]),
    Route("/tokens", create_token, methods=["POST"]),
    Route("/tokens/current", revoke_current_token, methods=["DELETE"]),
    Route("/me", me, methods=["GET"]),
    Route("/me/password", change_password, methods=["POST"]),
    Route("/notifications", notifications, methods=["GET"]),
    Route("/notifications/{id:int}/read", read_notification, methods=["POST"]),
]
