"""The staff's view of customer service: the queue of conversations waiting for an answer
(the longest waiting first), the answered and the closed ones, and how fast members get a
first answer.

A conversation's first-response time is from its first message to the first staff reply
(Conversation.first_response_at, written once). The queue page shows each one's, and the
median of the conversations started in the last FIRST_RESPONSE_DAYS days that got one.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.functions import Count

from accounts.models import User
from support.models import Conversation, ConversationStatus, Message
from support.services import last_messages

QUEUE = 100  # rows of a tab: the first
FIRST_RESPONSE_DAYS = 30
MEDIAN_SAMPLE = 20_000  # conversations the median reads at most (the latest)


@dataclass(frozen=True)
class QueueRow:
    conversation: Conversation
    member: User
    last_message: Message | None
    waiting_for: timedelta | None  # how long the member has waited (waiting ones)
    first_response: timedelta | None  # None: not answered yet


@dataclass(frozen=True)
class FirstResponses:
    """First-response times of the conversations started in the last FIRST_RESPONSE_DAYS."""

    median: timedelta | None  # None: none was answered
    answered: int
    waiting: int  # still waiting for a first answer


def first_response(conversation: Conversation) -> timedelta | None:
    """From the conversation's first message to the first staff answer; None while there
    is none. The one place it is computed: the queue, the conversation's page, the median
    and the person's page (crm.people) all take it from here."""
    if conversation.first_response_at is None:
        return None
    return conversation.first_response_at - conversation.first_message_at


async def queue(status: ConversationStatus, *, now: datetime, limit: int = QUEUE) -> list[QueueRow]:
    """The conversations of `status`: the waiting ones by how long they have waited, the
    longest first; the answered and the closed ones the latest message first."""
    query = Conversation.filter(status=status).select_related("user")
    if status == ConversationStatus.WAITING:
        query = query.order_by("waiting_since", "id")
    else:
        query = query.order_by("-last_message_at", "-id")
    conversations = await query.limit(limit)
    latest = await last_messages(conversations)
    return [
        QueueRow(
            conversation=c,
            member=c.user,
            last_message=latest.get(c.id),
            waiting_for=now - c.waiting_since if c.waiting_since else None,
            first_response=first_response(c),
        )
        for c in conversations
    ]


async def counts() -> dict[ConversationStatus, int]:
    """How many conversations each status has (the queue's tabs)."""
    rows = await Conversation.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    found = {ConversationStatus(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in ConversationStatus}


async def first_responses(*, now: datetime, days: int = FIRST_RESPONSE_DAYS) -> FirstResponses:
    """The median first-response time of the conversations started in the last `days` days
    that were answered, and how many of those still wait for a first answer."""
    started = Conversation.filter(first_message_at__gte=now - timedelta(days=days))
    answered = (
        await started.filter(first_response_at__isnull=False)
        .order_by("-first_message_at")
        .limit(MEDIAN_SAMPLE)
        .only("id", "first_message_at", "first_response_at")
    )
    seconds = [time.total_seconds() for c in answered if (time := first_response(c)) is not None]
    waiting = await started.filter(
        first_response_at__isnull=True, status=ConversationStatus.WAITING
    ).count()
    return FirstResponses(
        median=timedelta(seconds=statistics.median(seconds)) if seconds else None,
        answered=len(seconds),
        waiting=waiting,
    )
