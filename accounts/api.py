"""Accounts' JSON API: registration, bearer tokens, the caller's profile and inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts import (
    browsers,
    consents,
    devices,
    leaving,
    notices,
    phones,
    profiles,
    resets,
    schemas,
    services,
    sessions,
    sign_in_methods,
    verification,
)
from accounts.errors import NotificationNotFound
from accounts.models import ApiToken, AvatarState, Notification, User
from translation import translations
from web.api import iso, json_response, operation, read_json, read_query
from web.auth import api_user, bearer_token, client_address
from web.i18n import api_locale, choose_locale
from web.limits import FORM_FIELDS


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "display_name": user.display_name}


def notification_json(notification: Notification, locale: str) -> dict[str, Any]:
    text = notices.text_of(notification, locale)
    return {
        "id": notification.id,
        "kind": notification.kind,
        "text": text,
        "message": text,
        "link": notification.link,
        "created_at": iso(notification.created_at),
        "read": notification.read_at is not None,
    }


@operation(
    "Register an account",
    body=schemas.Registration,
    answer=schemas.Account,
    status=201,
    auth=None,
    tag="accounts",
    errors={
        409: "email_taken, version_not_current",
        422: "weak_password, blocked_words, words_need_approval",
        429: "rate_limited",
    },
)
async def create_account(request: Request) -> Response:
    data = await read_json(request, schemas.Registration)
    user = await services.register(
        email=data.email,
        password=data.password,
        display_name=data.display_name,
        locale=api_locale(request),
        address=client_address(request),
        counter=request.app.state.counter,
        agreement=consents.SignUpAgreement(data.terms, data.privacy, data.age_14),
        source="api",
    )
    return json_response(user_json(user), 201)


@operation(
    "Exchange email and password for a bearer token",
    body=schemas.Credentials,
    answer=schemas.Token,
    status=201,
    auth=None,
    tag="accounts",
    errors={401: "bad_credentials", 429: "rate_limited"},
)
async def create_token(request: Request) -> Response:
    data = await read_json(request, schemas.Credentials)
    signed_in = await services.authenticate(
        email=data.email,
        password=data.password,
        address=client_address(request),
        counter=request.app.state.counter,
        secret_key=request.app.state.settings.secret_key,
        device_token=data.device_token,
        login_code=data.code,
    )
    return await _token_answer(signed_in, name=data.name or "api")


async def _token_answer(signed_in: services.SignedIn, *, name: str) -> Response:
    """A new bearer token for whoever just signed in: the one end of the API's sign-ins,
    where a cancellation in its cooling-off is undone (accounts.leaving.come_back)."""
    came_back = await leaving.come_back(signed_in.user, now=datetime.now(UTC))
    token = await services.issue_token(signed_in.user, name=name)
    answer: dict[str, Any] = {"token": token, "device_token": signed_in.device_token}
    if came_back:
        answer["came_back"] = True
    return json_response(answer, 201)


@operation(
    "Mail a one-time sign-in code to the account (202 whether or not it exists): with it, "
    "`POST /tokens` takes the password from an address whose failures are limited",
    body=schemas.LoginCodeRequest,
    status=202,
    auth=None,
    tag="accounts",
    errors={429: "rate_limited"},
)
async def request_login_code(request: Request) -> Response:
    data = await read_json(request, schemas.LoginCodeRequest)
    await devices.request_login_code(
        email=data.email,
        address=client_address(request),
        counter=request.app.state.counter,
        locale=api_locale(request),
        now=datetime.now(UTC),
    )
    return Response(status_code=202)


@operation(
    "Text a 6-digit sign-in code to a mainland mobile number (202 whether or not an account "
    "has it); it works once, for 5 minutes, with `POST /tokens/phone`",
    body=schemas.PhoneCodeRequest,
    status=202,
    auth=None,
    tag="accounts",
    errors={422: "invalid_field", 429: "rate_limited", 503: "service_unavailable"},
)
async def request_phone_code(request: Request) -> Response:
    data = await read_json(request, schemas.PhoneCodeRequest)
    settings = request.app.state.settings
    await phones.request_code(
        data.phone,
        address=client_address(request),
        counter=request.app.state.counter,
        sender=request.app.state.sms_sender,
        secret_key=settings.secret_key,
        now=datetime.now(UTC),
        budget=settings.sms_daily_budget,
    )
    return Response(status_code=202)


@operation(
    "Exchange a mobile number and the code texted to it for a bearer token; a number never "
    "seen makes a new account (without email or password)",
    body=schemas.PhoneCredentials,
    answer=schemas.Token,
    status=201,
    auth=None,
    tag="accounts",
    errors={401: "bad_code", 403: "account_closed", 422: "invalid_field", 429: "rate_limited"},
)
async def create_phone_token(request: Request) -> Response:
    data = await read_json(request, schemas.PhoneCredentials)
    signed_in = await phones.sign_in_with_code(
        data.phone,
        data.code,
        address=client_address(request),
        counter=request.app.state.counter,
        secret_key=request.app.state.settings.secret_key,
        now=datetime.now(UTC),
        device_token=data.device_token,
        locale=api_locale(request),
    )
    return await _token_answer(signed_in, name="phone")


@operation("Revoke the bearer token this request carries", status=204, tag="accounts")
async def revoke_current_token(request: Request) -> Response:
    await api_user(request)
    token = bearer_token(request)
    assert token is not None
    await services.revoke_token(token, now=datetime.now(UTC))
    return Response(status_code=204)


@operation("The caller's account", answer=schemas.Me, tag="accounts")
async def me(request: Request) -> Response:
    return json_response(await me_json(await api_user(request)))


async def me_json(user: User) -> dict[str, Any]:
    return {
        **user_json(user),
        "sign_in_methods": await sign_in_methods.methods(user),
        "is_admin": user.is_admin,
        "staff_role": user.staff_role,
        "member_until": iso(user.member_until),
        "email_verified": user.email_verified_at is not None,
        "locale": user.locale,
        "bio": user.bio,
        "avatar_url": profiles.avatar_url(user, "large", viewer=user),
        "avatar_pending_review": user.avatar_state == AvatarState.WAITING,
        "ip_region": user.ip_region,
    }


@operation(
    "Change the caller's profile (display name, bio, language); only what is given changes. "
    "A new name or bio is checked against the watched words: a blocked word, or one that "
    "needs a moderator (a name is shown at once and cannot wait), refuses it with `field` "
    "and `words`; a censored word is kept as ■",
    body=schemas.ProfileChange,
    answer=schemas.Me,
    tag="accounts",
    errors={422: "invalid_field, blocked_words, words_need_approval"},
)
async def change_profile(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.ProfileChange)
    await profiles.update_profile(
        user,
        display_name=data.display_name,
        bio=data.bio,
        locale=data.locale,
        now=datetime.now(UTC),
    )
    return json_response(await me_json(user))


@operation(
    "Upload the caller's avatar as multipart field `avatar`; it is cut square and resized. "
    "A young account's waits for a moderator (`avatar_pending_review`): until then only the "
    "caller sees it",
    form=schemas.AVATAR_UPLOAD,
    encoding=schemas.AVATAR_ENCODING,
    answer=schemas.Me,
    tag="accounts",
    errors={422: "invalid_field", 429: "rate_limited"},
)
async def upload_avatar(request: Request) -> Response:
    user = await api_user(request)
    async with request.form(max_fields=FORM_FIELDS) as form:  # closes the file after
        upload = form.get("avatar")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
    await profiles.set_avatar(
        user,
        data,
        pictures=request.app.state.pictures,
        counter=request.app.state.counter,
        now=datetime.now(UTC),
        review_days=request.app.state.settings.avatar_review_days,
    )
    return json_response(await me_json(user))


@operation(
    "Mail the caller a new link to verify their address (at most one an hour)",
    status=202,
    tag="accounts",
)
async def send_verification(request: Request) -> Response:
    user = await api_user(request)
    await verification.resend_verification(user, now=datetime.now(UTC))
    return Response(status_code=202)


@operation(
    "Verify an address with the token of a verification mail",
    status=204,
    auth=None,
    tag="accounts",
    errors={404: "verification_not_found", 410: "verification_expired"},
)
async def verify_email(request: Request) -> Response:
    await verification.verify(request.path_params["token"], now=datetime.now(UTC))
    return Response(status_code=204)


@operation(
    "How the caller is told of each kind of notice",
    answer=schemas.NoticeChoices,
    tag="accounts",
)
async def notice_choices(request: Request) -> Response:
    user = await api_user(request)
    chosen = {name: channel for name, _kind, channel in await notices.choices(user)}
    items = []
    known = notices.kinds()
    for name, kind in known.items():
        if not kind.offered_to(user):
            continue
        # Kinds sharing a label are chosen together: each shows its group's choice.
        group = next(n for n, k in known.items() if k.label == kind.label)
        items.append({"kind": name, "channel": chosen[group].value})
    return json_response({"items": items})


@operation(
    "Choose how the caller is told of one kind of notice (and of kinds chosen with it)",
    body=schemas.NoticeChoiceChange,
    answer=schemas.NoticeChoices,
    tag="accounts",
    errors={404: "not_found"},
)
async def change_notice_choice(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.NoticeChoiceChange)
    if request.path_params["kind"] not in notices.kinds():
        raise NotificationNotFound("No such kind of notice.")
    await notices.choose(user, request.path_params["kind"], data.channel, source="api")
    return await notice_choices(request)


@operation(
    "Change the caller's password; every token is revoked and a new one returned",
    body=schemas.PasswordChange,
    answer=schemas.Token,
    tag="accounts",
    errors={401: "bad_credentials", 422: "weak_password"},
)
async def change_password(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.PasswordChange)
    await services.change_password(
        user,
        current_password=data.current_password,
        new_password=data.new_password,
        now=datetime.now(UTC),
    )
    return json_response({"token": await services.issue_token(user, name="api")})


@operation(
    "The caller's notifications, newest first; `cursor` continues from next_cursor",
    query=schemas.NotificationsQuery,
    answer=schemas.Notifications,
    tag="accounts",
)
async def notifications(request: Request) -> Response:
    user = await api_user(request)
    cursor = read_query(request, schemas.NotificationsQuery).cursor
    before_id = int(cursor) if cursor else None
    page = await services.list_notifications(user, limit=30, before_id=before_id)
    return json_response(
        {
            "items": [notification_json(n, api_locale(request, user)) for n in page],
            "unread": await services.unread_count(user),
            "next_cursor": str(page[-1].id) if len(page) == 30 else None,
        }
    )


@operation("Mark one notification read", status=204, tag="accounts")
async def read_notification(request: Request) -> Response:
    user = await api_user(request)
    await services.mark_read(user, request.path_params["id"], now=datetime.now(UTC))
    return Response(status_code=204)


@operation(
    "Where the account is signed in: its browser sessions and API tokens",
    answer=schemas.OpenSessions,
    tag="accounts",
)
async def open_sessions(request: Request) -> Response:
    user = await api_user(request)
    token = bearer_token(request)
    current = await ApiToken.get_or_none(token_hash=services.token_digest(token or ""))
    found = await sessions.open_sessions(user, current_token_id=current.id if current else None)
    gettext = translations(api_locale(request, user)).gettext
    return json_response(
        {
            "items": [
                {
                    "id": s.id,
                    "kind": s.kind,
                    "created_at": iso(s.created_at),
                    "last_seen_at": iso(s.last_seen_at),
                    "user_agent": s.user_agent,
                    "address": s.address,
                    "current": s.current,
                    "device": browsers.device_name(s, gettext),
                }
                for s in found
            ]
        }
    )


@operation(
    "Sign out everywhere else: end every browser session and API token of the account but "
    "the bearer token this request carries",
    status=204,
    tag="accounts",
)
async def end_other_sessions(request: Request) -> Response:
    user = await api_user(request)
    # The API reads no session cookie (web.sessions.SESSIONLESS_PREFIXES): the caller is
    # always a bearer token, and that token stays.
    token = bearer_token(request)
    assert token is not None
    await sessions.sign_out_everywhere_else(
        user, now=datetime.now(UTC), current_token_digest=services.token_digest(token)
    )
    return Response(status_code=204)


@operation(
    "End one of the account's sessions or tokens (one's own token too)",
    status=204,
    tag="accounts",
    errors={404: "not_found"},
    path={"id": {"type": "string", "pattern": "^[st][0-9]{1,10}$"}},
)
async def end_session(request: Request) -> Response:
    user = await api_user(request)
    await sessions.end_open_session(user, request.path_params["id"], now=datetime.now(UTC))
    return Response(status_code=204)


@operation(
    "Remove one of the caller's ways to sign in (all of that kind); never the last one",
    status=204,
    tag="accounts",
    errors={404: "not_found", 409: "last_sign_in_method"},
    path={"kind": {"type": "string", "enum": list(sign_in_methods.KINDS)}},
)
async def remove_sign_in_method(request: Request) -> Response:
    user = await api_user(request)
    await sign_in_methods.remove(user, request.path_params["kind"], now=datetime.now(UTC))
    return Response(status_code=204)


@operation(
    "Ask for a password-reset mail: 202 whether or not the account exists",
    body=schemas.ResetRequest,
    status=202,
    auth=None,
    tag="accounts",
    errors={429: "rate_limited"},
)
async def request_password_reset(request: Request) -> Response:
    data = await read_json(request, schemas.ResetRequest)
    await resets.request_reset(
        email=data.email,
        address=client_address(request),
        counter=request.app.state.counter,
        locale=choose_locale(request),
        now=datetime.now(UTC),
    )
    return Response(status_code=202)


@operation(
    "Set a new password with the token of a reset mail; every session and token ends",
    body=schemas.NewPassword,
    status=204,
    auth=None,
    tag="accounts",
    errors={404: "reset_not_found", 410: "reset_expired", 422: "weak_password"},
)
async def reset_password(request: Request) -> Response:
    data = await read_json(request, schemas.NewPassword)
    await resets.reset_password(
        token=request.path_params["token"], password=data.password, now=datetime.now(UTC)
    )
    return Response(status_code=204)


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/accounts", create_account, methods=["POST"], name="accounts.create_account"),
        Route(
            "/password-resets",
            request_password_reset,
            methods=["POST"],
            name="accounts.request_password_reset",
        ),
        Route(
            "/password-resets/{token:str}",
            reset_password,
            methods=["POST"],
            name="accounts.reset_password",
        ),
        Route("/tokens", create_token, methods=["POST"], name="accounts.create_token"),
        Route(
            "/tokens/phone",
            create_phone_token,
            methods=["POST"],
            name="accounts.create_phone_token",
        ),
        Route(
            "/phone-codes", request_phone_code, methods=["POST"], name="accounts.request_phone_code"
        ),
        Route(
            "/login-codes", request_login_code, methods=["POST"], name="accounts.request_login_code"
        ),
        Route(
            "/tokens/current",
            revoke_current_token,
            methods=["DELETE"],
            name="accounts.revoke_current_token",
        ),
        Route("/me", me, methods=["GET"], name="accounts.me"),
        Route("/me", change_profile, methods=["PATCH"], name="accounts.change_profile"),
        Route("/me/avatar", upload_avatar, methods=["POST"], name="accounts.upload_avatar"),
        Route(
            "/me/email-verification",
            send_verification,
            methods=["POST"],
            name="accounts.send_verification",
        ),
        Route(
            "/email-verifications/{token:str}",
            verify_email,
            methods=["POST"],
            name="accounts.verify_email",
        ),
        Route("/me/notices", notice_choices, methods=["GET"], name="accounts.notice_choices"),
        Route(
            "/me/notices/{kind:str}",
            change_notice_choice,
            methods=["PUT"],
            name="accounts.change_notice_choice",
        ),
        Route("/me/password", change_password, methods=["POST"], name="accounts.change_password"),
        Route(
            "/me/sign-in-methods/{kind:str}",
            remove_sign_in_method,
            methods=["DELETE"],
            name="accounts.remove_sign_in_method",
        ),
        Route("/me/sessions", open_sessions, methods=["GET"], name="accounts.open_sessions"),
        Route(
            "/me/sessions",
            end_other_sessions,
            methods=["DELETE"],
            name="accounts.end_other_sessions",
        ),
        Route(
            "/me/sessions/{id:str}", end_session, methods=["DELETE"], name="accounts.end_session"
        ),
        Route("/notifications", notifications, methods=["GET"], name="accounts.notifications"),
        Route(
            "/notifications/{id:id}/read",
            read_notification,
            methods=["POST"],
            name="accounts.read_notification",
        ),
    ]
