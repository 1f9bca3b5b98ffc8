"""The account page's part about customer service: the member's conversations (registered by
the composition root, as accounts imports no package above it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accounts.account_parts import AccountPart
from accounts.models import User
from support import services

SHOWN = 10  # the latest conversations on the account page; /contact lists more


async def _conversations(user: User) -> Mapping[str, Any]:
    mine = await services.member_conversations(user, limit=SHOWN)
    return {"conversations": mine, "first_messages": await services.first_messages(mine)}


CONVERSATIONS = AccountPart("support/_account.html", _conversations)
