"""Broadcasts sent by real `shuyuan worker` processes on PostgreSQL: 10,000 recipients, a worker
killed half-way (SIGKILL: no goodbye, a batch's transaction cut off), another started after it,
and batches of overlapping broadcasts taken by many hands at once. Each person is counted:
exactly one."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime

import asyncpg
import pytest

from accounts import notices
from accounts.models import NoticeChannel, User
from crm import broadcasts
from crm.broadcasts import Audience
from crm.models import AudienceKind, Broadcast, BroadcastStatus
from settings import Settings
from tests.factories import make_user
from tests.jobs.test_worker import connect, wait_for, worker

pytestmark = pytest.mark.postgres_only

PEOPLE = 10_000
MAILED = 50  # of them chose broadcasts by mail (the rest: the inbox only, the default)


async def seed_members(db: asyncpg.Connection, count: int, *, members: bool = True) -> None:
    """`count` people with verified addresses (members when `members`), written in one
    statement: registering each through the service would hash 10,000 passwords."""
    await db.execute(
        """
        INSERT INTO accounts_user (email, display_name, password_hash, is_admin, created_at,
                                   avatar_version, bio, email_verified_at, member_until)
        SELECT 'p' || n || '-' || $2 || '@example.cn', '读者' || n, 'none', false, now(), 0,
               '', now(), CASE WHEN $3 THEN now() + interval '100 days' END
          FROM generate_series(1, $1::int) AS n
        """,
        count,
        "m" if members else "n",
        members,
    )


async def per_person(db: asyncpg.Connection) -> dict[int, int]:
    rows = await db.fetch(
        "SELECT user_id, count(*) AS n FROM accounts_notification "
        "WHERE kind = 'broadcast' GROUP BY user_id"
    )
    return {row["user_id"]: row["n"] for row in rows}


async def delivered(db: asyncpg.Connection, broadcast_id: int) -> int:
    return int(
        await db.fetchval(
            "SELECT delivered + skipped + failed FROM crm_broadcast WHERE id = $1", broadcast_id
        )
    )


async def test_a_worker_killed_half_way_is_resumed_and_everyone_is_reached_once(
    settings: Settings,
) -> None:
    db = await connect(settings)
    try:
        await seed_members(db, PEOPLE)
        for user in await User.filter(member_until__isnull=False).order_by("id").limit(MAILED):
            await notices.choose(user, "broadcast", NoticeChannel.INBOX_AND_MAIL.value)
        admin = await make_user(admin=True)
        broadcast = await broadcasts.create(
            actor=admin,
            title="今晚的直播",
            body="八点见，[入口](https://example.cn/live)。",
            audience=Audience(AudienceKind.ALL_MEMBERS),
            send_at=None,
            now=datetime.now(UTC),
        )
        assert (broadcast.status, broadcast.recipients) == (BroadcastStatus.SENDING, PEOPLE)
        logs = tuple(settings.var_dir / f"worker-{name}.log" for name in ("first", "second"))
        with worker(settings, "first") as first:

            async def half_way() -> bool:
                return await delivered(db, broadcast.id) >= PEOPLE // 3

            await wait_for(half_way, 60, logs=logs)
            os.killpg(first.pid, signal.SIGKILL)  # most likely inside a batch's transaction
            first.wait()
        at_kill = await delivered(db, broadcast.id)
        assert at_kill < PEOPLE, "the worker finished before it was killed: nothing was resumed"
        with worker(settings, "second"):

            async def sent() -> bool:
                status = await db.fetchval(
                    "SELECT status FROM crm_broadcast WHERE id = $1", broadcast.id
                )
                return status == "sent"

            await wait_for(sent, 90, logs=logs)
        counts = await per_person(db)
        row = await db.fetchrow(
            "SELECT recipients, delivered, skipped, failed, mailed FROM crm_broadcast "
            "WHERE id = $1",
            broadcast.id,
        )
        mails = await db.fetch(
            "SELECT recipient, count(*) AS n FROM accounts_outbox "
            "WHERE dedupe_key LIKE 'broadcast:%' GROUP BY recipient"
        )
        pending = await db.fetchval(
            "SELECT count(*) FROM crm_broadcast_recipient WHERE state <> 'delivered'"
        )
    finally:
        await db.close()
    assert len(counts) == PEOPLE and set(counts.values()) == {1}, "someone got it twice or not"
    assert dict(row) == {
        "recipients": PEOPLE,
        "delivered": PEOPLE,
        "skipped": 0,
        "failed": 0,
        "mailed": MAILED,
    }
    assert len(mails) == MAILED and all(m["n"] == 1 for m in mails)
    assert pending == 0


async def test_batches_of_overlapping_broadcasts_taken_at_once_reach_nobody_twice(
    settings: Settings,
) -> None:
    """Eight hands at once (each its own connection and transaction, as eight workers'
    batches would be) take small batches of two broadcasts whose audiences overlap: SKIP
    LOCKED keeps their batches apart, the daily reach lets each person through once, and
    the batches, claimed in user order, do not deadlock."""
    db = await connect(settings)
    try:
        await seed_members(db, 3_000)
        await seed_members(db, 2_000, members=False)
        admin = await make_user(admin=True)
        now = datetime.now(UTC)
        made = [
            await broadcasts.create(
                actor=admin, title=title, body=title, audience=Audience(kind), send_at=None, now=now
            )
            for title, kind in (
                ("会员专享", AudienceKind.ALL_MEMBERS),
                ("全体", AudienceKind.EVERYONE),
            )
        ]
        # The second is not refused: 2,001 of its people are in no other broadcast.
        batches = 0

        async def hand(order: list[int]) -> None:
            nonlocal batches
            while True:
                done = [await broadcasts.deliver_batch(b, now=now, size=50) for b in order]
                batches += sum(1 for d in done if d.done)
                if not any(d.done for d in done):
                    return

        ids = [b.id for b in made]
        await asyncio.gather(*(hand(ids if n % 2 else ids[::-1]) for n in range(8)))
        counts = await per_person(db)
    finally:
        await db.close()
    everyone = await User.all().count()
    assert len(counts) == everyone == 5_001 and set(counts.values()) == {1}
    first, second = [await Broadcast.get(id=b.id) for b in made]
    assert (first.status, second.status) == (BroadcastStatus.SENT, BroadcastStatus.SENT)
    assert first.delivered + second.delivered == everyone
    assert first.skipped + second.skipped == first.recipients + second.recipients - everyone
    assert batches >= (first.recipients + second.recipients) // 50  # many batches, many hands
