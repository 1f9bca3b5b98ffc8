"""The outbox: what is sent to the outside world later (mail first, then broadcasts).

A change that must tell someone writes a message here in its own transaction (`enqueue`),
so the message exists exactly when the change does: a rolled-back change sends nothing, and a
slow or absent mail server never slows the page. A periodic job (`deliver_due`, through
jobs.schedule) sends what is due; a failure waits and is tried again with growing waits, up
to MAX_ATTEMPTS, and is then left `failed` for an admin. A message is claimed before it is
sent, so it is never sent twice: a run that dies mid-send leaves it `sending`, and
`settle_stuck` marks such messages `unknown` (maybe sent) rather than sending them again.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tortoise import connections
from tortoise.transactions import in_transaction

from accounts.mail import Mailer, MailUnavailable, message_id
from accounts.models import OutboxMessage, OutboxState
from db import for_dialect, read_sql
from errors import ValidationError

log = logging.getLogger(__name__)
SQL = Path(__file__).resolve().parent / "sql"
_ENQUEUE = read_sql(SQL / "outbox_enqueue.sql")
_CLAIM = read_sql(SQL / "outbox_claim.sql")
MAX_ATTEMPTS = 8
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=2)
STUCK_AFTER = timedelta(minutes=10)
BATCH = 50
CHANNELS = ("mail",)


def new_token() -> str:
    """A Message-ID's left part: 128 random bits, unique without a counter."""
    return secrets.token_hex(16)


def wait_after(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... at most 2 h: the wait before attempt `attempts + 1`."""
    wait: timedelta = FIRST_WAIT * 2 ** max(0, min(attempts - 1, 16))
    return min(wait, LONGEST_WAIT)


async def enqueue(
    *,
    channel: str,
    recipient: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    key: str,
    now: datetime,
) -> None:
    """Write a message to send later, in the caller's transaction (call it inside the
    `in_transaction()` of the change it tells of). A `key` already written adds nothing."""
    if channel not in CHANNELS:
        raise ValidationError("channel", f"must be one of {', '.join(CHANNELS)}")
    if not 1 <= len(key) <= 120 or not 1 <= len(subject) <= 200 or len(recipient) > 320:
        raise ValidationError("key", "key, subject and recipient must be bounded")
    connection = connections.get("default")
    sql = for_dialect(_ENQUEUE, connection.capabilities.dialect)
    extra = json.dumps(headers) if headers else None
    await connection.execute_query(
        sql, [channel, recipient, subject, text, html, extra, key, now, now, new_token()]
    )


@dataclass(frozen=True)
class Message:
    """One message for `enqueue_many`."""

    recipient: str
    subject: str
    text: str
    html: str | None
    headers: dict[str, str] | None
    key: str


async def enqueue_many(messages: list[Message], *, channel: str, now: datetime) -> None:
    """`enqueue` for many messages at once (a broadcast's batch), one statement run for each
    row (asyncpg sends them together); the same rules and the same statement."""
    if channel not in CHANNELS:
        raise ValidationError("channel", f"must be one of {', '.join(CHANNELS)}")
    if not messages:
        return
    for m in messages:
        if not 1 <= len(m.key) <= 120 or not 1 <= len(m.subject) <= 200 or len(m.recipient) > 320:
            raise ValidationError("key", "key, subject and recipient must be bounded")
    connection = connections.get("default")
    sql = for_dialect(_ENQUEUE, connection.capabilities.dialect)
    await connection.execute_many(
        sql,
        [
            [
                channel,
                m.recipient,
                m.subject,
                m.text,
                m.html,
                json.dumps(m.headers) if m.headers else None,
                m.key,
                now,
                now,
                new_token(),
            ]
            for m in messages
        ],
    )


def _headers(stored: object) -> dict[str, str]:
    """The extra headers as stored (JSON text; asyncpg may hand back text or a dict)."""
    if stored is None:
        return {}
    value = json.loads(stored) if isinstance(stored, str | bytes) else stored
    return {str(k): str(v) for k, v in dict(value).items()}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Delivered:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


async def deliver_due(mailer: Mailer | None, *, now: datetime, limit: int = BATCH) -> Delivered:
    """Send the messages that are due (none while no mail server is configured: they wait)."""
    if mailer is None:
        return Delivered()
    async with in_transaction() as connection:  # the claim commits before anything is sent
        dialect = connection.capabilities.dialect
        sql = _CLAIM.replace(
            "/* lock */", "FOR UPDATE SKIP LOCKED" if dialect == "postgres" else ""
        )
        claimed = await connection.execute_query_dict(for_dialect(sql, dialect), [now, now, limit])
    sent = retrying = failed = 0
    for row in claimed:
        if not row["message_token"]:  # written before tokens: one is chosen now, and kept
            row["message_token"] = new_token()
            await OutboxMessage.filter(id=row["id"]).update(message_token=row["message_token"])
        try:
            await mailer.send(
                to=row["recipient"],
                subject=row["subject"],
                text=row["text"],
                html=row["html"],
                headers=_headers(row["headers"]),
                message_id=message_id(row["message_token"], mailer.sender),
            )
        except MailUnavailable as exc:
            attempts = int(row["attempts"])
            if attempts >= MAX_ATTEMPTS:
                state, failed = OutboxState.FAILED, failed + 1
            else:
                state, retrying = OutboxState.PENDING, retrying + 1
            await OutboxMessage.filter(id=row["id"], state=OutboxState.SENDING).update(
                state=state, next_attempt_at=now + wait_after(attempts), last_error=str(exc)[:300]
            )
            log.warning("mail not sent", extra={"outbox_id": row["id"], "attempts": attempts})
            continue
        await OutboxMessage.filter(id=row["id"], state=OutboxState.SENDING).update(
            state=OutboxState.SENT, sent_at=now, last_error=None
        )
        sent += 1
    return Delivered(sent, retrying, failed)


RUN_SECONDS = 4.0  # a run of the delivery job (every 5 s) takes no new batch after this long


async def deliver_for(
    mailer: Mailer | None, *, now: datetime, seconds: float = RUN_SECONDS, limit: int = BATCH
) -> Delivered:
    """`deliver_due` batch after batch while each batch was full and `seconds` have not
    passed: a broadcast's thousands of mails go out in minutes, not fifty every run."""
    deadline = time.monotonic() + seconds
    total = Delivered()
    while True:
        batch = await deliver_due(mailer, now=now, limit=limit)
        total = Delivered(
            total.sent + batch.sent, total.retrying + batch.retrying, total.failed + batch.failed
        )
        if batch.sent + batch.retrying + batch.failed < limit or time.monotonic() >= deadline:
            return total


async def settle_stuck(*, now: datetime) -> int:
    """Messages left `sending` by a run that died: maybe sent, so marked `unknown` for an
    admin instead of being sent again."""
    return await OutboxMessage.filter(
        state=OutboxState.SENDING, claimed_at__lt=now - STUCK_AFTER
    ).update(state=OutboxState.UNKNOWN)
