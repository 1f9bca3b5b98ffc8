"""Whether the board is members-only is kept in each worker's memory (every signed-in
non-member's front page asks), and a moderator's change reaches every worker at once: this one
forgets it as it announces, the others when they hear it (tests/test_changes.py proves the
bus between two app processes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from changes import BOARD, Change
from community.board import permissions, replies
from community.board import services as board
from community.board.models import BoardSettings
from jobs.worker import WorkerMemory
from ratelimit import MemoryCounter
from tests.factories import make_member, make_user, sign_in


async def test_a_moderators_change_is_read_at_once_on_this_worker() -> None:
    moderator = await make_user(admin=True)
    assert await permissions.members_only_read() is False  # now remembered
    await permissions.set_members_only_read(True, actor=moderator, now=datetime.now(UTC))
    assert await permissions.members_only_read() is True  # forgotten as it was announced
    await permissions.set_members_only_read(False, actor=moderator, now=datetime.now(UTC))
    assert await permissions.members_only_read() is False


async def test_another_workers_change_is_read_when_heard() -> None:
    memory = permissions.BOARD_SETTINGS.get()
    assert await permissions.members_only_read() is False
    # Another host's moderator wrote it; this worker has not heard yet: its memory answers.
    await BoardSettings.update_or_create(id=1, defaults={"members_only_read": True})
    assert await permissions.members_only_read() is False
    worker = WorkerMemory(board=memory)
    worker.heard(Change(BOARD, "settings"))
    assert await permissions.members_only_read() is True
    await BoardSettings.filter(id=1).update(members_only_read=False)
    worker.heard(None)  # "some may have been missed": every shared memory goes
    assert await permissions.members_only_read() is False


async def test_a_non_members_front_page_follows_the_change(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    moderator, member = await make_user(admin=True), await make_member()
    post, _ = await board.create_post(
        author=member,
        category="knowledge",
        title="读书会招募",
        body="每周三晚上。",
        counter=MemoryCounter(),
        now=now,
    )
    await replies.reply(post.id, author=member, body="我来。", counter=MemoryCounter(), now=now)
    reader = await make_user(name="读者")  # signed in, not a member
    await sign_in(client, reader.email)
    assert f'href="/board/posts/{post.id}"' in (await client.get("/")).text
    await permissions.set_members_only_read(True, actor=moderator, now=now)
    assert f'href="/board/posts/{post.id}"' not in (await client.get("/")).text
    await permissions.set_members_only_read(False, actor=moderator, now=now)
    assert f'href="/board/posts/{post.id}"' in (await client.get("/")).text


async def test_a_read_under_way_when_forgotten_is_not_remembered() -> None:
    memory = permissions.BOARD_SETTINGS.get()
    await BoardSettings.update_or_create(id=1, defaults={"members_only_read": False})
    reading = asyncio.ensure_future(permissions.members_only_read())
    await asyncio.sleep(0)  # its statement is sent; its answer is not in yet
    memory.forget()  # a moderator's change heard meanwhile
    assert await reading is False  # what that request read, as it began before the change
    await BoardSettings.filter(id=1).update(members_only_read=True)
    assert await permissions.members_only_read() is True  # the old answer was not kept


async def test_the_readers_of_one_moment_share_one_read() -> None:
    memory = permissions.BOARD_SETTINGS.get()
    readers = [asyncio.ensure_future(permissions.members_only_read()) for _ in range(5)]
    await asyncio.sleep(0)
    shared = memory.reading
    assert shared is not None
    assert await asyncio.gather(*readers) == [False] * 5
    assert memory.reading is None and memory.members_only is False
