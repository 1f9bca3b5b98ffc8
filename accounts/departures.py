"""Who asked to leave, and when they were erased, kept where a restored database cannot undo it.

A database restored from a backup is the past: a person erased since the backup is back with
their name, phone and addresses, and one who asked to leave after it has never asked. This
ledger is kept in the object storage (storage.py) beside the uploads, outside the database, so
it outlives a restore of the database: `shuyuan erase-again` reads it and sets every account it
names to be erased again, when it was due (docs/backups.md, "Erasures after the backup").

An entry holds an account's id and two times, nothing that names a person. Staying (the
cancellation undone) deletes it; an entry goes 30 days after its erasure, when no backup older
than the erasure is left (docs/privacy.md). Writing it never fails the person's request: the
change is committed, and a ledger that cannot be written is logged (the log line
"account erased" stays the record of last resort).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from accounts.models import User
from storage import STORAGE, NotStored

log = logging.getLogger(__name__)

PREFIX = "ledger/departures/"
KEPT_AFTER_ERASURE = timedelta(days=30)  # the longest a backup is kept (docs/backups.md)


@dataclass(frozen=True)
class Departure:
    user_id: int
    erase_after: datetime
    erased_at: datetime | None = None

    def encode(self) -> bytes:
        return json.dumps(
            {
                "user_id": self.user_id,
                "erase_after": self.erase_after.isoformat(),
                "erased_at": self.erased_at.isoformat() if self.erased_at else None,
            }
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> Departure:
        value = json.loads(data)
        erased = value.get("erased_at")
        return cls(
            int(value["user_id"]),
            datetime.fromisoformat(value["erase_after"]),
            datetime.fromisoformat(erased) if erased else None,
        )


def _key(user_id: int) -> str:
    return f"{PREFIX}{user_id}.json"


async def _write(departure: Departure) -> None:
    try:
        await STORAGE.get().put(_key(departure.user_id), departure.encode(), "application/json")
    except Exception:  # the disk's or the bucket's; the change itself is committed
        log.exception("departures: not written for account %s", departure.user_id)


async def asked_to_leave(user_id: int, erase_after: datetime) -> None:
    await _write(Departure(user_id, erase_after))


async def erased(user_id: int, erase_after: datetime, erased_at: datetime) -> None:
    await _write(Departure(user_id, erase_after, erased_at))


async def stayed(user_id: int) -> None:
    try:
        await STORAGE.get().delete(_key(user_id))
    except Exception:
        log.exception("departures: not deleted for account %s", user_id)


async def departures() -> list[Departure]:
    """Every entry of the ledger (an unreadable one is logged and passed over)."""
    storage = STORAGE.get()
    found = []
    for key in await storage.keys(PREFIX):
        try:
            found.append(Departure.decode(await storage.get(key)))
        except (NotStored, ValueError, KeyError):
            log.warning("departures: %s cannot be read", key)
    return found


async def erase_again(*, now: datetime) -> list[int]:
    """After a restore of the database: every account the ledger names and the database does
    not (yet) know is leaving, or knows to leave later, is set to be erased when the ledger says
    (an erasure already done: now); the erasure job then does it. Returns their ids."""
    again = []
    for departure in await departures():
        due = min(departure.erase_after, now) if departure.erased_at else departure.erase_after
        user = await User.get_or_none(id=departure.user_id)
        if user is None or user.erased_at is not None:
            continue
        if user.erase_after is not None and user.erase_after <= due:
            continue
        await User.filter(id=user.id, erased_at=None).update(erase_after=due)
        again.append(user.id)
    return again


async def forget_old(*, now: datetime) -> int:
    """Delete the entries of erasures older than any backup kept; returns how many."""
    storage = STORAGE.get()
    gone = 0
    for departure in await departures():
        if departure.erased_at and departure.erased_at < now - KEPT_AFTER_ERASURE:
            await storage.delete(_key(departure.user_id))
            gone += 1
    return gone
