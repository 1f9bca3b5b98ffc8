"""Conversations with customer service as reportable things (moderation.reports.Reportable
"conversation"): a member reports their own conversation (what a staff member wrote to them).
Nothing is hidden on a decision: the report is acted on by the people who run customer
service, and the member is told the outcome. Registered by the composition root."""

from __future__ import annotations

import links
from accounts.models import User
from moderation.reports import Reportable, Reportables, Shown
from support.errors import ConversationNotFound
from support.models import Conversation
from translation import N_


async def _find(conversation_id: int, reporter: User | None) -> Shown:
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None or (
        reporter is not None and conversation.user_id != reporter.id  # type: ignore[attr-defined]
    ):
        raise ConversationNotFound()
    # What was said stays with customer service (Capability.CONVERSATIONS, who open the
    # link): the report names the conversation, never its messages.
    return Shown(
        f"#{conversation.id}",
        links.path("support.admin.conversation", id=conversation.id),
        None,
        seen_at=links.path("support.conversation_page", id=conversation.id),
    )


def register(reportables: Reportables) -> None:
    reportables.register("conversation", Reportable(N_("Conversation"), _find, None))
