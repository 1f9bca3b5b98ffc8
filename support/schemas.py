"""Customer service's API shapes: a member's conversations and their messages, and the staff's
queue."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from support.services import MAX_BODY, MAX_PAGE, PAGE_PATTERN
from web.api import Answer, Body, Query, text

Status = Literal["waiting", "answered", "closed"]


class NewConversation(Body):
    """A member's first message to customer service. `page` is the page of this site they
    wrote from ("/store/products/7"): optional, a path without query, and refused (422)
    unless it is one of the site's public pages (never one whose path holds a token, such as
    a password reset: docs/support.md)."""

    body: Annotated[str, text(MAX_BODY, min_length=1)]
    page: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=MAX_PAGE,
                pattern=PAGE_PATTERN,
                description="A public page of this site, such as /store/products/7",
            ),
        ]
        | None
    ) = None


class ConversationCreated(Answer):
    id: int


class NewConversationMessage(Body):
    """A message in a conversation: by its member (it waits in the queue again) or by staff
    who answer (it is answered, and the member told). A closed conversation opens again."""

    body: Annotated[str, text(MAX_BODY, min_length=1)]


class ConversationMessageWritten(Answer):
    id: int


class ConversationSummary(Answer):
    """A conversation: `waiting_since` is when the member's oldest unanswered message came
    (null unless waiting); `first_response_at` the first staff reply's time."""

    id: int
    user_id: int
    status: Status
    waiting_since: str | None
    first_message_at: str
    first_response_at: str | None
    last_message_at: str


class Conversations(Answer):
    items: list[ConversationSummary]


class ConversationPicture(Answer):
    """A picture sent with a message: private, given only to the conversation's member and
    to staff who answer (with their session or bearer token)."""

    url: str
    thumbnail_url: str
    width: int  # of the thumbnail
    height: int


class ConversationMessage(Answer):
    id: int
    from_staff: bool
    author_id: int | None  # who wrote it; a staff member's is given to staff readers only
    body: str
    page: str | None
    picture: ConversationPicture | None
    created_at: str


class ConversationThread(Answer):
    """A conversation and its messages (the latest 200), oldest first."""

    id: int
    user_id: int
    status: Status
    waiting_since: str | None
    first_message_at: str
    first_response_at: str | None
    last_message_at: str
    messages: list[ConversationMessage]


class QueueQuery(Query):
    """A tab of the queue: `waiting` (the longest waiting first), `answered` or `closed`
    (the latest message first)."""

    status: Status = "waiting"


class ConversationLastMessage(Answer):
    id: int
    from_staff: bool
    body: str
    has_picture: bool
    created_at: str


class QueuedConversation(Answer):
    """A conversation of the queue: its member (`user_id`), how long it has waited, its
    latest message, and its first-response time in seconds (null: not answered yet)."""

    id: int
    user_id: int
    member_name: str
    status: Status
    waiting_since: str | None
    first_message_at: str
    first_response_seconds: int | None
    last_message: ConversationLastMessage | None


class ConversationQueue(Answer):
    """The first 100 conversations of a tab, and the median first-response time of the
    conversations started in the last 30 days (null: none answered)."""

    items: list[QueuedConversation]
    median_first_response_seconds: int | None
