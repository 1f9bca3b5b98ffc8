"""Mail asked for by people who are not signed in (reset links, sign-in codes), sent by a job.

The request that asks writes an accounts.MailRequest row and answers, whether or not an
account has the email, so its answer says nothing and takes the same time. This job (run with
the outbox's, every few seconds) takes each row once, looks the account up, and writes the mail
to the outbox; a row for an email nobody has is dropped, as is one too old to be useful.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from accounts import devices, resets
from accounts.models import MailRequest, User

SENDERS: dict[str, Callable[[User, str, datetime], Awaitable[None]]] = {
    "reset": resets.send_reset_link,
    "login_code": devices.send_login_code,
}
STALE_AFTER = timedelta(minutes=30)


async def send_due(*, now: datetime, limit: int = 200) -> int:
    """Write the mail of each recorded ask (oldest first, `limit` at a time); returns how many
    were mailed. Each ask is taken by the one worker whose DELETE removes its row."""
    sent = 0
    for ask in await MailRequest.all().order_by("id").limit(limit):
        async with in_transaction():
            if not await MailRequest.filter(id=ask.id).delete():
                continue  # another worker took it
            sender = SENDERS.get(ask.kind)
            if sender is None or now - ask.created_at > STALE_AFTER:
                continue
            user = await User.get_or_none(email=ask.email)
            if user is not None:
                await sender(user, ask.locale, now)
                sent += 1
    return sent
