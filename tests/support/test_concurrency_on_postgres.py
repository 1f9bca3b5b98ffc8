"""Messages written at once in one conversation, on PostgreSQL (each its own connection and
transaction): the conditional UPDATEs keep the conversation's last message the newest, and
its first response written once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AuditEntry, Notification
from ratelimit import MemoryCounter
from support import services
from support.models import Conversation, ConversationStatus, Message
from tests.factories import make_member, make_user

pytestmark = pytest.mark.postgres_only

MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


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
    await conversation.refresh_from_db()
    newest = await Message.filter(conversation_id=conversation.id).order_by("-id").first()
    assert newest is not None
    assert conversation.last_message_id == newest.id
    assert conversation.last_message_at == newest.created_at
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.waiting_since in times


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
    conversation = await Conversation.get(id=conversation.id)
    assert conversation.status == ConversationStatus.ANSWERED
    assert conversation.waiting_since is None
    assert conversation.first_response_at in times
    assert await AuditEntry.filter(action="conversation.reply").count() == 5
    assert await Notification.filter(user_id=member.id, kind="support_reply").count() == 5
