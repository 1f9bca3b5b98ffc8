"""The back office's outreach API shapes: segments (saved filters over people) and broadcasts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from crm.broadcasts import MAX_BODY, MAX_TITLE
from crm.segments import SegmentFilter
from web.api import Answer, Body, Id, Moment, Query, line, text
from web.paths import ID_PATTERN

NEEDS_ID = ["segment", "product_buyers"]  # the audiences that name what they are


# A segment's conditions: the domain's own type, declared as it is (one definition).
Filter = SegmentFilter


class NewSegment(Body):
    name: Annotated[str, line(60, min_length=1)]
    filter: Filter


class SegmentCreated(Answer):
    id: int
    count: int  # the people it selects now


class Segment(Answer):
    id: int
    name: str
    filter: Filter  # the conditions given (those not given are left out)
    count: int  # counted live
    created_at: str


class Segments(Answer):
    items: list[Segment]


class Audience(msgspec.Struct, kw_only=True):
    """Who a broadcast goes to: every member, everyone with an account, a segment's people, or
    the buyers of a product; `id` names the segment or the product (ignored otherwise). Those
    who chose to receive no broadcasts are never in it."""

    kind: Literal["all_members", "everyone", "segment", "product_buyers"]
    id: Id | None = None


class NewBroadcast(Body):
    """A broadcast: its `title` and Markdown `body`, its `audience`, and when it goes
    (`send_at`, with an offset; left out or null: now). The server checks what a schema cannot:
    `send_at` is not in the past nor more than a year away (422 invalid_field); the audience is
    not empty (422 empty_audience); not everyone in it was already reached on the send's
    Asia/Shanghai day (409 daily_limit: one broadcast a day is the most anyone receives)."""

    schema_rules: ClassVar[Mapping[str, Any]] = {
        "if": {
            "required": ["audience"],
            "properties": {
                "audience": {"required": ["kind"], "properties": {"kind": {"enum": NEEDS_ID}}}
            },
        },
        "then": {
            "properties": {
                "audience": {"required": ["id"], "properties": {"id": {"type": "integer"}}}
            }
        },
    }

    title: Annotated[str, line(MAX_TITLE, min_length=1)]
    body: Annotated[str, text(MAX_BODY, min_length=1)]
    audience: Audience
    send_at: Moment | None = None


class WatchedWordFound(Answer):
    word: str  # as the admins wrote it on their lists
    action: Literal["block", "censor", "require_approval", "flag"]


class BroadcastCreated(Answer):
    id: int
    recipients: int  # the audience when written (written again when the sending starts)
    status: Literal["scheduled", "sending", "sent", "canceled"]
    watched_words: Annotated[
        list[WatchedWordFound],
        msgspec.Meta(
            description=(
                "The watched words in its title and body, each once with its action: a "
                "warning (a broadcast is never refused for them); empty when none"
            )
        ),
    ]


class BroadcastAudience(Answer):
    kind: Literal["all_members", "everyone", "segment", "product_buyers"]
    id: int | None


class BroadcastProgress(Answer):
    """A broadcast and how its sending goes: of its `recipients`, those `delivered` (an inbox
    notice, and `mailed` those who chose mail), `skipped` (another broadcast reached them that
    Shanghai day) and `failed` (the account was gone); `clicks` of its mailed links."""

    id: int
    status: Literal["scheduled", "sending", "sent", "canceled"]
    recipients: int
    delivered: int
    failed: int
    skipped: int
    clicks: int
    title: str
    mailed: int
    audience: BroadcastAudience
    send_at: str
    started_at: str | None
    finished_at: str | None


class Broadcasts(Answer):
    items: list[BroadcastProgress]


class NewBroadcastQuery(Query):
    """The new broadcast's page: `segment` (an id, or empty) chooses that segment as its
    audience."""

    segment: Annotated[str, msgspec.Meta(pattern=f"^(?:{ID_PATTERN})?$")] = ""
