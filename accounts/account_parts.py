"""What packages above accounts show of a person on their account page (/account).

accounts imports no package above it: a package that has something of the person's to show
(customer service, their conversations) declares an AccountPart, a template and what it needs,
and the composition root registers it in the app's AccountParts, which the account page
renders in order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from accounts.models import User
from wiring import Wire


@dataclass(frozen=True)
class AccountPart:
    template: str  # a partial, included in templates/accounts/account.html
    load: Callable[[User], Awaitable[Mapping[str, Any]]]  # what the partial reads


@dataclass(frozen=True)
class ShownPart:
    template: str
    context: Mapping[str, Any]


class AccountParts(list[AccountPart]):
    """The parts one app shows on the account page, in the order registered."""

    async def shown(self, user: User) -> list[ShownPart]:
        return [ShownPart(part.template, await part.load(user)) for part in self]


ACCOUNT_PARTS: Wire[AccountParts] = Wire("accounts.account_parts")


def parts() -> AccountParts:
    return ACCOUNT_PARTS.get()
