"""Customer service's rules: who reads a conversation, the queue's order and its waiting times,
the first-response time, closing and opening again, and what a member may send."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from accounts.models import AuditEntry, Notification, User
from demo import support as support_demo
from errors import RateLimited, ValidationError
from ratelimit import Counter, MemoryCounter, RedisCounter
from support import queue, services
from support.errors import ConversationNotFound
from support.models import Conversation, ConversationStatus, Message
from tests.factories import make_member, make_user

REDIS_URL = "redis://127.0.0.1:6379/0"
# 10:00 in Shanghai on 1 June 2026.
MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return MORNING + timedelta(minutes=n)


async def ask(
    member: User, body: str = "我的会员卡在哪里看？", *, at: datetime = MORNING, **kwargs: Any
) -> Conversation:
    return await services.start(member, body=body, now=at, counter=MemoryCounter(), **kwargs)


async def answer(
    staff: User, conversation_id: int, body: str = "在账户页。", *, at: datetime
) -> Message:
    return await services.write(staff, conversation_id, body=body, now=at, counter=MemoryCounter())


async def test_a_new_conversation_waits_in_the_queue_from_its_first_message() -> None:
    member = await make_member()
    conversation = await ask(member, page="/store/products/7")
    await conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.waiting_since == MORNING
    assert conversation.first_message_at == MORNING
    assert conversation.first_response_at is None
    [message] = await services.thread(conversation)
    assert (message.body, message.page, message.from_staff) == (
        "我的会员卡在哪里看？",
        "/store/products/7",
        False,
    )


async def test_the_queue_puts_the_longest_waiting_first() -> None:
    staff = await make_user(role="support")
    early, late = await make_member(), await make_member()
    second = await ask(late, at=minutes(5))
    first = await ask(early, at=minutes(1))
    rows = await queue.queue(ConversationStatus.WAITING, now=minutes(10))
    assert [r.conversation.id for r in rows] == [first.id, second.id]
    assert [r.waiting_for for r in rows] == [timedelta(minutes=9), timedelta(minutes=5)]
    await answer(staff, first.id, at=minutes(11))
    rows = await queue.queue(ConversationStatus.WAITING, now=minutes(12))
    assert [r.conversation.id for r in rows] == [second.id]


async def test_writing_again_to_an_answered_conversation_puts_it_back_at_its_new_waiting_time() -> (
    None
):
    staff = await make_user(role="support")
    one, two = await make_member(), await make_member()
    answered = await ask(one, at=minutes(0))
    other = await ask(two, at=minutes(20))
    await answer(staff, answered.id, at=minutes(5))
    assert [
        r.conversation.id for r in await queue.queue(ConversationStatus.ANSWERED, now=minutes(6))
    ] == [answered.id]
    await services.write(
        one, answered.id, body="还有一个问题。", now=minutes(30), counter=MemoryCounter()
    )
    rows = await queue.queue(ConversationStatus.WAITING, now=minutes(40))
    # It waits from its new message (minute 30): after the one waiting since minute 20.
    assert [r.conversation.id for r in rows] == [other.id, answered.id]
    assert rows[1].conversation.waiting_since == minutes(30)


async def test_a_second_message_while_waiting_keeps_the_first_waiting_time() -> None:
    member = await make_member()
    conversation = await ask(member, at=minutes(0))
    await services.write(
        member, conversation.id, body="补充一下。", now=minutes(3), counter=MemoryCounter()
    )
    await conversation.refresh_from_db()
    assert conversation.waiting_since == minutes(0)
    assert conversation.last_message_at == minutes(3)


async def test_the_first_response_time_is_from_the_first_message_to_the_first_staff_reply() -> None:
    staff = await make_user(role="support")
    member = await make_member()
    conversation = await ask(member, at=minutes(0))
    await answer(staff, conversation.id, at=minutes(45))
    await services.write(
        member, conversation.id, body="谢谢", now=minutes(50), counter=MemoryCounter()
    )
    await answer(staff, conversation.id, body="不客气", at=minutes(90))
    await conversation.refresh_from_db()
    assert conversation.first_response_at == minutes(45)
    assert queue.first_response(conversation) == timedelta(minutes=45)
    [row] = await queue.queue(ConversationStatus.ANSWERED, now=minutes(100))
    assert row.first_response == timedelta(minutes=45)


async def test_the_median_first_response_counts_the_last_30_days_answered_and_the_waiting() -> None:
    staff = await make_user(role="support")
    now = minutes(0) + timedelta(days=40)
    for days_ago, took in ((1, 10), (2, 30), (3, 60), (35, 1)):
        started = now - timedelta(days=days_ago)
        conversation = await ask(await make_member(), at=started)
        await answer(staff, conversation.id, at=started + timedelta(minutes=took))
    await ask(await make_member(), at=now - timedelta(hours=1))  # still waiting
    found = await queue.first_responses(now=now)
    # 10, 30 and 60 minutes (the one of 35 days ago is outside): the median is 30.
    assert (found.median, found.answered, found.waiting) == (timedelta(minutes=30), 3, 1)


async def test_support_can_answer_and_the_answer_reaches_the_member_s_inbox() -> None:
    staff = await make_user(role="support")
    member = await make_member()
    conversation = await ask(member)
    await answer(staff, conversation.id, at=minutes(5))
    [notice] = await Notification.filter(user_id=member.id, kind="support_reply")
    assert notice.link == f"/contact/{conversation.id}"
    assert notice.params == {"excerpt": "在账户页。"}
    entry = await AuditEntry.get(action="conversation.reply")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (  # type: ignore[attr-defined]
        staff.id,
        "conversation",
        str(conversation.id),
    )


async def test_a_member_cannot_read_or_write_another_member_s_conversation() -> None:
    owner, other = await make_member(), await make_member()
    conversation = await ask(owner)
    with pytest.raises(ConversationNotFound):
        await services.conversation_for(other, conversation.id)
    with pytest.raises(ConversationNotFound):
        await services.write(
            other, conversation.id, body="我来看看", now=minutes(1), counter=MemoryCounter()
        )
    with pytest.raises(ConversationNotFound):
        await services.close(other, conversation.id, now=minutes(1))
    assert len(await services.thread(conversation)) == 1


@pytest.mark.parametrize("role", ["moderator", None])
async def test_neither_a_moderator_nor_a_member_answers_conversations(role: str | None) -> None:
    conversation = await ask(await make_member())
    outsider = await make_user(role=role)
    with pytest.raises(ConversationNotFound):
        await answer(outsider, conversation.id, at=minutes(1))


@pytest.mark.parametrize("role", ["support", "admin", "owner"])
async def test_support_and_above_answer_conversations(role: str) -> None:
    conversation = await ask(await make_member())
    await answer(await make_user(role=role), conversation.id, at=minutes(1))
    await conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.ANSWERED


async def test_closing_takes_a_conversation_out_of_the_queue_and_a_message_opens_it_again() -> None:
    member = await make_member()
    conversation = await ask(member)
    closed = await services.close(member, conversation.id, now=minutes(2))
    assert (closed.status, closed.waiting_since) == (ConversationStatus.CLOSED, None)
    assert await queue.queue(ConversationStatus.WAITING, now=minutes(3)) == []
    await services.write(
        member, conversation.id, body="又有问题了", now=minutes(10), counter=MemoryCounter()
    )
    await conversation.refresh_from_db()
    assert (conversation.status, conversation.waiting_since) == (
        ConversationStatus.WAITING,
        minutes(10),
    )


async def test_staff_reopening_a_conversation_the_member_wrote_last_puts_it_in_the_queue() -> None:
    staff = await make_user(role="support")
    member = await make_member()
    conversation = await ask(member)
    await services.close(staff, conversation.id, now=minutes(1))
    reopened = await services.reopen(staff, conversation.id, now=minutes(5))
    assert (reopened.status, reopened.waiting_since) == (ConversationStatus.WAITING, minutes(5))
    assert (
        await AuditEntry.filter(action__in=["conversation.close", "conversation.reopen"]).count()
        == 2
    )


@pytest.mark.parametrize(
    ("body", "page", "field"),
    [
        ("", None, "body"),
        ("   \n ", None, "body"),
        ("长" * 2001, None, "body"),
        ("a\x00b", None, "body"),
        ("好的", "https://evil.example/", "page"),
        ("好的", "//evil.example/x", "page"),
        ("好的", "/a\\b", "page"),
        ("好的", "/" + "x" * 200, "page"),
        # Pages whose path is a secret, or that are no member's public page: never kept.
        ("好的", "/account/reset/" + "t" * 43, "page"),
        ("好的", "/account/verify/" + "t" * 43, "page"),
        ("好的", "/mail/unsubscribe/" + "t" * 43, "page"),
        ("好的", "/m/" + "t" * 43, "page"),
        ("好的", "/membership/verify/" + "t" * 43, "page"),
        ("好的", "/feed/" + "t" * 43 + ".rss", "page"),
        ("好的", "/account", "page"),
        ("好的", "/admin/people/1", "page"),
        ("好的", "/api/v1/conversations", "page"),
        ("好的", "/store?from=feed", "page"),
        ("好的", "/no/such/page", "page"),
    ],
)
async def test_a_bad_message_is_refused_naming_its_field(
    body: str, page: str | None, field: str
) -> None:
    member = await make_member()
    with pytest.raises(ValidationError) as refused:
        await ask(member, body, page=page)
    assert refused.value.field == field
    assert not await Conversation.exists()


async def test_a_member_sends_at_most_20_messages_an_hour() -> None:
    member = await make_member()
    counter = MemoryCounter()
    conversation = await services.start(member, body="一", now=MORNING, counter=counter)
    for n in range(19):
        await services.write(member, conversation.id, body=f"{n}", now=MORNING, counter=counter)
    with pytest.raises(RateLimited):
        await services.write(member, conversation.id, body="再一条", now=MORNING, counter=counter)
    staff = await make_user(role="support")
    await services.write(staff, conversation.id, body="答复不受限", now=MORNING, counter=counter)


@pytest.fixture(params=["memory", "redis"])
async def counter(request: pytest.FixtureRequest) -> AsyncIterator[Counter]:
    """The tests' counters in this process, and in the local Redis (each test its own keys)
    as production keeps them, where a count is a round trip other requests run during."""
    if request.param == "memory":
        yield MemoryCounter()
        return
    shared = RedisCounter(REDIS_URL, prefix=f"shuyuan-test:{secrets.token_hex(4)}:")
    try:
        await shared.count("probe", services.MEMBER_MESSAGES)
    except (OSError, aioredis.ConnectionError):
        await shared.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield shared
    await shared.aclose()


async def test_thirty_messages_at_once_pass_the_hourly_limit_twenty_times(
    counter: Counter,
) -> None:
    member = await make_member()
    asked = await asyncio.gather(
        *(
            services.start(member, body=f"问题 {n}", now=MORNING, counter=counter)
            for n in range(30)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(a, Conversation) for a in asked) == 20
    assert sum(isinstance(a, RateLimited) for a in asked) == 10
    assert await Conversation.filter(user_id=member.id).count() == 20


async def test_the_page_from_a_contact_link_is_kept_as_a_path_of_a_public_page_only() -> None:
    assert services.page_from("/store/products/7?from=feed") == "/store/products/7"
    assert services.page_from("/feed/search?q=" + "长" * 300) == "/feed/search"
    assert services.page_from("/membership") == "/membership"
    assert services.page_from("/account/reset/" + "t" * 43) is None
    assert services.page_from("/membership/verify/" + "t" * 43) is None
    assert services.page_from("/m/" + "t" * 43) is None
    assert services.page_from("https://evil.example/") is None
    assert services.page_from("//evil.example/") is None
    assert services.page_from("") is None


async def test_a_page_holding_a_token_cannot_be_stored() -> None:
    member = await make_member()
    for page in ("/account/reset/" + "t" * 43, "/mail/unsubscribe/" + "t" * 43):
        with pytest.raises(ValidationError):
            await ask(member, "好的", page=page)
    conversation = await ask(member, "好的", page="/store/products/7")
    assert await Message.filter(conversation_id=conversation.id).values_list("page", flat=True) == [
        "/store/products/7"
    ]
    assert not await Message.filter(page__contains="reset").exists()


async def test_the_demo_has_one_conversation_waiting_and_one_answered() -> None:
    for email in ("luoji@shuyuan.test", "xiaoyu@shuyuan.test", "chenmo@shuyuan.test"):
        await make_user(email=email)
    admin = await make_user(role="owner")
    assert await support_demo.load(admin) is True
    assert await support_demo.load(admin) is False
    counts = await queue.counts()
    assert counts == {
        ConversationStatus.WAITING: 1,
        ConversationStatus.ANSWERED: 1,
        ConversationStatus.CLOSED: 1,
    }
