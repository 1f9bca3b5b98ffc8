"""Mail asked for by people who are not signed in (reset links, sign-in codes), sent by a job.

The request that asks writes an accounts.MailRequest row and answers, whether or not an
account has the email, so its answer says nothing and takes the same time. This job (run with
the outbox's, every few seconds) takes each row once, looks the account up, and writes the mail
to the outbox; a row for an email nobody has is dropped, as is one too old to be useful.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from accounts import devices, link_codes, resets
from accounts.models import MailRequest, User

SENDERS: dict[str, Callable[[User, str, datetime], Awaitable[None]]] = {
    "reset": resets.send_reset_link,
    "login_code": devices.send_login_code,
    link_codes.MAIL_KIND: link_codes.send_link_code,
}
STALE_AFTER = timedelta(minutes=30)
log = logging.getLogger(__name__)


async def send_due(*, now: datetime, limit: int = 200) -> int:
    """Write the mail of each recorded ask (oldest first, `limit` at a time); returns how many
    were mailed. Each ask is taken by the one worker whose DELETE removes its row."""
    sent = 0
    for ask in await MailRequest.all().order_by("id").limit(limit):
        try:
            sent += await _send(ask, now)
        except Exception:  # one ask that fails (rolled back, tried again) stops no other mail
            log.exception("mail request %s (%s) failed", ask.id, ask.kind)
    return sent


async def _send(ask: MailRequest, now: datetime) -> int:
    async with in_transaction():
        if not await MailRequest.filter(id=ask.id).delete():
            return 0  # another worker took it
        sender = SENDERS.get(ask.kind)
        if sender is None or now - ask.created_at > STALE_AFTER:
            return 0
        user = await User.get_or_none(email=ask.email)
        if user is None:
            return 0
        await sender(user, ask.locale, now)
        return 1
