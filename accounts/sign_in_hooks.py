"""What packages above accounts do when a browser signs in or signs up (referrals: the visit
its cookie remembers becomes the account's). accounts imports no package above it: the
composition root registers each hook in the app's SignInHooks, and every way of signing in
(accounts.routes: registration, and signed_in_response, the one end of password, phone and
WeChat sign-in) runs them once the new session is started."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from accounts.models import User
from wiring import Wire

SignInHook = Callable[[Request, User], Awaitable[None]]


class SignInHooks(list[SignInHook]):
    """The hooks one app runs on each sign-in, in the order registered."""


SIGN_IN_HOOKS: Wire[SignInHooks] = Wire("accounts.sign_in_hooks")


async def signed_in(request: Request, user: User) -> None:
    for hook in SIGN_IN_HOOKS.get():
        await hook(request, user)
