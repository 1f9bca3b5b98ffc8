"""Leaving's declared API shapes: the request to cancel, its state, a code sent."""

from __future__ import annotations

from typing import Annotated, Literal

from accounts import services
from web.api import Answer, Body, line

ProofKind = Literal["password", "mail", "sms", "sign_in"]


class DeletionRequest(Body):
    password: (
        Annotated[str, line(services.MAX_PASSWORD_LENGTH, description="the account's password")]
        | None
    ) = None
    code: (
        Annotated[
            str,
            line(
                6,
                description="for an account without a password: the code POST "
                "/me/deletion/code sent",
            ),
        ]
        | None
    ) = None


class DeletionAsked(Answer):
    erase_after: str  # ISO 8601 UTC: signing in before then (or DELETE) undoes it


class DeletionState(Answer):
    # None: not being cancelled. Else the moment it is erased (until then, undo it).
    erase_after: str | None
    # How this account proves it is its owner's: its password, a code by mail or SMS, or (a
    # WeChat-only account) a token made by signing in with WeChat within the last 10 minutes.
    proof: ProofKind | None
    proof_to: str  # where a code goes, masked ("" for the password)
    # Orders still owed (paid, not yet delivered or refunded): the request is refused (409
    # open_orders) until they are delivered or refunded.
    owed_orders: list[int]
    held_orders: list[int]  # held and unpaid: released when the account is cancelled
    member_until: str | None  # a membership with time left: its days are forfeited


class DeletionUndone(Answer):
    erase_after: str | None  # always None: the account stays


class DeletionCodeSent(Answer):
    sent_to: Literal["mail", "sms"]
    where: str  # the masked address or number
