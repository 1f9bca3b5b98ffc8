"""Who may do what on the board: read it (everyone signed in, unless a moderator made it
members-only), write on it (active members and moderators, unless banned for a while). Each
rule has a predicate for pages that only show or hide, and a guard that raises for actions."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from accounts.roles import Capability
from changes import BOARD, announce
from community.board.errors import Banned, BoardMembersOnly
from community.board.models import BoardBan, BoardSettings
from errors import DomainError
from membership.services import is_member
from wiring import NotWired, Wire


class BoardSettingsMemory:
    """This worker's memory of whether the board is members-only: asked on every signed-in
    non-member's front page and board page, read again at most once a second, forgotten at once
    on every worker of every host when a moderator changes it (announced: changes.BOARD). A
    read that was under way when it was forgotten is not remembered (it may be the old value),
    and the readers of one moment share one read."""

    def __init__(self, max_age: float = 1.0) -> None:
        self.max_age = max_age
        self.members_only: bool | None = None
        self.read_at = 0.0
        self.forgotten = 0  # how many times forgotten: a read stores only if this stayed
        self.reading: asyncio.Task[bool] | None = None

    def forget(self) -> None:
        self.members_only = None
        self.forgotten += 1
        self.reading = None


BOARD_SETTINGS: Wire[BoardSettingsMemory] = Wire("community.board.settings")


async def _read_members_only() -> bool:
    settings = await BoardSettings.get_or_none(id=1)
    return bool(settings and settings.members_only_read)


async def members_only_read() -> bool:
    """Whether the board is open to members only (and moderators)."""
    try:
        memory = BOARD_SETTINGS.get()
    except NotWired:  # a command outside any app: the database's answer
        return await _read_members_only()
    if memory.members_only is not None and time.monotonic() - memory.read_at <= memory.max_age:
        return memory.members_only
    reading = memory.reading
    if reading is None:
        forgotten = memory.forgotten
        reading = memory.reading = asyncio.ensure_future(_read_members_only())
        try:
            value = await asyncio.shield(reading)
        finally:
            if memory.reading is reading:
                memory.reading = None
        if memory.forgotten == forgotten:
            memory.members_only, memory.read_at = value, time.monotonic()
        return value
    return await asyncio.shield(reading)


async def set_members_only_read(
    value: bool, *, actor: User | None, now: datetime | None = None
) -> None:
    """Open the board to members only, or to everyone signed in (moderators); a change is an
    audit entry ("board_settings.update")."""
    async with in_transaction():
        settings, _ = await BoardSettings.get_or_create(id=1)
        was = settings.members_only_read
        settings.members_only_read = value
        await settings.save(update_fields=["members_only_read"])
        if was != value:
            await audit.record(
                actor=actor,
                action="board_settings.update",
                object_type="board_settings",
                object_id=settings.id,
                before={"members_only_read": was},
                after={"members_only_read": value},
                now=now,
            )
    await announce(BOARD, "settings")  # every worker reads it again at once


def moderates(user: User) -> bool:
    """Whether `user` looks after the board (their staff role grants moderation)."""
    return user.may(Capability.MODERATE)


def _active_member(user: User, now: datetime) -> bool:
    return moderates(user) or is_member(user, at=now)


async def may_read(user: User, now: datetime) -> bool:
    """Everyone signed in reads the board, unless a moderator made it members-only."""
    return _active_member(user, now) or not await members_only_read()


async def check_can_read(user: User, now: datetime) -> None:
    """The guard of every reading action: raises BoardMembersOnly where may_read says no."""
    if not await may_read(user, now):
        raise BoardMembersOnly("The board is open to members only.")


async def banned_until(user: User, now: datetime) -> datetime | None:
    ban = await BoardBan.get_or_none(user_id=user.id)
    return ban.until if ban and ban.until > now else None


async def why_may_not_write(user: User, now: datetime) -> DomainError | None:
    """Why `user` may not post, reply, like or report now, or None when they may: only active
    members (and moderators) write (else BoardMembersOnly); a ban stops them for a while
    (Banned)."""
    if not _active_member(user, now):
        return BoardMembersOnly()
    until = await banned_until(user, now)
    if until is not None:
        return Banned(
            f"You may not post on the board until {until.isoformat()}.", until=until.isoformat()
        )
    return None


async def may_write(user: User, now: datetime) -> bool:
    """Whether `user` may write on the board now (pages show or hide their forms by it)."""
    return await why_may_not_write(user, now) is None


async def check_can_write(user: User, now: datetime) -> None:
    """The guard of every writing action: raises what why_may_not_write names. Pages and the
    API call it before they read the text, so a refusal (403) comes before a bad field (422)."""
    refusal = await why_may_not_write(user, now)
    if refusal is not None:
        raise refusal
