"""What each kind of paid-for thing does when its payment settles: the purposes' handlers."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from payments.models import Payment
from wiring import Wire

_PURPOSE = re.compile(r"^[a-z][a-z_]{0,39}$")


class Fulfilment(StrEnum):
    """A purpose's answer when a payment for one of its things succeeds."""

    FULFILLED = "fulfilled"  # delivered now (an order paid, a seat taken), or already was
    # Paid, and delivered later by the purpose itself (a group buy whose group must fill):
    # neither fulfilled nor refunded yet, and reconciliation leaves it to the purpose.
    WAITING = "waiting"
    REFUSED = "refused"  # can no longer be delivered: the payment is refunded in full


FulfilHook = Callable[[Payment, datetime], Awaitable[Fulfilment]]
PaymentHook = Callable[[Payment], Awaitable[None]]
RefundHook = Callable[[Payment, int], Awaitable[None]]


@dataclass(frozen=True)
class PurposeHandlers:
    """What a package does when a payment for one of its things settles.

    `fulfil` runs inside the transaction that records a success, exactly once per payment.
    It delivers the thing, or takes it again if it was released meanwhile (a late success:
    the hold expired or the buyer cancelled), and answers FULFILLED, WAITING or REFUSED (the
    payment is then refunded in full automatically). It must be idempotent: asked again about
    a payment that already delivered its thing, it answers FULFILLED and changes nothing
    (reconciliation asks again about rows written before settlements were recorded). If it
    raises, nothing is recorded and the success is settled again later.

    `on_refused` runs once that automatic refund went through (tell the person);
    `on_failed` after a payment failed: the thing stays held, since only expiry or the
    buyer's own cancel releases it; `on_refunded` after an admin's refund, partial or full.
    """

    fulfil: FulfilHook
    on_refused: PaymentHook | None = None
    on_failed: PaymentHook | None = None
    on_refunded: RefundHook | None = None
    # The route (taking the thing's id) where its buyer waits while a wallet is paid: where
    # WeChat Pay's h5 flow sends them back to from WeChat.
    paying_page: str | None = None


class Purposes:
    """The purposes one app settles payments for, each with its handlers. Built by the
    composition root (each package registers its own) and held by the app: never a module's."""

    def __init__(self) -> None:
        self._handlers: dict[str, PurposeHandlers] = {}

    def register(self, name: str, handlers: PurposeHandlers) -> None:
        """Register (or replace) the handlers of a purpose such as "membership" or "order"."""
        if not _PURPOSE.match(name):
            raise ValueError(f"purpose names are lower_snake_case: {name!r}")
        self._handlers[name] = handlers

    def handlers_for(self, purpose: str) -> PurposeHandlers:
        """The registered handlers of `purpose`; LookupError if nobody registered it."""
        try:
            return self._handlers[purpose]
        except KeyError:
            raise LookupError(f"no payment handlers registered for purpose {purpose!r}") from None

    def names(self) -> list[str]:
        return sorted(self._handlers)


# The purposes of the app (or command, or test) this code runs for.
PURPOSES: Wire[Purposes] = Wire("payments.purposes")


def handlers_for(purpose: str) -> PurposeHandlers:
    """The handlers the running app registered for `purpose`; LookupError if none."""
    return PURPOSES.get().handlers_for(purpose)
