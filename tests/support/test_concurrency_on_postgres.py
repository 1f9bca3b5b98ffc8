"""Messages written at once in one conversation, on PostgreSQL (each its own connection and
transaction): every change locks the conversation's row first, so the conversation is waiting
exactly when its newest message is the member's, its last message is the newest, and its
first response and waiting time are the messages' own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AuditEntry, Notification, User
from ratelimit import MemoryCounter
from support import services
from support.models import Conversation, ConversationStatus, Message
from tests.factories import make_member, make_user

pytestmark = pytest.mark.postgres_only

MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


async def assert_consistent(conversation_id: int, *, reopened: bool = False) -> None:
    """The conversation as its messages say it must be: waiting exactly when the newest is
    the member's (and it is not closed), waiting since the member's first message after the
    last staff one (or since it was `reopened`, which puts it back in the queue from then),
    first answered at the first staff message, pointing at the newest."""
    conversation = await Conversation.get(id=conversation_id)
    messages = await Message.filter(conversation_id=conversation_id).order_by("id")
    newest = messages[-1]
    assert conversation.last_message_id == newest.id
    assert conversation.last_message_at == newest.created_at
    if conversation.status != ConversationStatus.CLOSED:
        expected = ConversationStatus.ANSWERED if newest.from_staff else ConversationStatus.WAITING
        assert conversation.status == expected
    staff_ids = [m.id for m in messages if m.from_staff]
    if conversation.status == ConversationStatus.WAITING:
        unanswered = [m for m in messages if not staff_ids or m.id > staff_ids[-1]]
        if not reopened:
            assert conversation.waiting_since == unanswered[0].created_at
        assert conversation.waiting_since is not None
    else:
        assert conversation.waiting_since is None
    first_staff = next((m for m in messages if m.from_staff), None)
    assert conversation.first_response_at == (first_staff.created_at if first_staff else None)


async def test_forty_messages_at_once_leave_the_newest_as_the_last() -> None:
    member = await make_member()
    staff = await make_user(role="support")
    conversation = await services.start(
        member, body="第一个问题", now=MORNING, counter=MemoryCounter()
    )
    await services.write(staff, conversation.id, body="答复", now=MORNING, counter=MemoryCounter())
    times = [MORNING + timedelta(seconds=1 + n) for n in range(40)]
    await asyncio.gather(
        *(
            services.write(
                member, conversation.id, body=f"补充 {n}", now=at, counter=MemoryCounter()
            )
            for n, at in enumerate(times)
        )
    )
    await assert_consistent(conversation.id)
    await conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING


async def test_staff_answering_at_once_set_the_first_response_once() -> None:
    member = await make_member()
    conversation = await services.start(
        member, body="有人在吗？", now=MORNING, counter=MemoryCounter()
    )
    staff = [await make_user(role="support") for _ in range(5)]
    times = [MORNING + timedelta(minutes=1 + n) for n in range(5)]
    await asyncio.gather(
        *(
            services.write(s, conversation.id, body="在的", now=at, counter=MemoryCounter())
            for s, at in zip(staff, times, strict=True)
        )
    )
    await assert_consistent(conversation.id)
    conversation = await Conversation.get(id=conversation.id)
    first = await Message.filter(conversation_id=conversation.id, from_staff=True).order_by("id")
    assert conversation.status == ConversationStatus.ANSWERED
    assert conversation.first_response_at == first[0].created_at  # written once, by the first
    assert await AuditEntry.filter(action="conversation.reply").count() == 5
    assert await Notification.filter(user_id=member.id, kind="support_reply").count() == 5


async def answer_and_follow_up(
    member: User, staff: User, conversation_id: int, at: datetime
) -> None:
    await asyncio.gather(
        services.write(staff, conversation_id, body="答复", now=at, counter=MemoryCounter()),
        services.write(
            member,
            conversation_id,
            body="追问",
            now=at + timedelta(seconds=1),
            counter=MemoryCounter(),
        ),
    )


async def test_a_staff_answer_and_a_member_s_message_at_once_leave_the_queue_true() -> None:
    member = await make_member()
    staff = await make_user(role="support")
    conversation = await services.start(member, body="问题", now=MORNING, counter=MemoryCounter())
    for n in range(30):
        await answer_and_follow_up(member, staff, conversation.id, MORNING + timedelta(minutes=n))
        await assert_consistent(conversation.id)


async def test_a_close_and_a_member_s_message_at_once_leave_the_conversation_true() -> None:
    member = await make_member()
    staff = await make_user(role="support")
    conversation = await services.start(member, body="问题", now=MORNING, counter=MemoryCounter())
    for n in range(20):
        at = MORNING + timedelta(minutes=n)
        await asyncio.gather(
            services.close(staff, conversation.id, now=at),
            services.write(member, conversation.id, body="还在吗", now=at, counter=MemoryCounter()),
            services.reopen(staff, conversation.id, now=at),
        )
        await assert_consistent(conversation.id, reopened=True)
