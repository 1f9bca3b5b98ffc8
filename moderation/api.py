"""Moderation's JSON API for staff: the watched words (Capability.WATCHED_WORDS: add, list,
remove, test a sentence) and the review queue (MODERATE: list, decide). The console's pages
(moderation.admin) are its twins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.roles import Capability
from moderation import reports, review, words
from moderation.models import ReviewItem
from web.api import Answer, Body, iso, json_response, line, operation, read_json, text
from web.auth import api_user, staff_member, staff_only

ActionName = Literal["block", "censor", "require_approval", "flag"]


class NewWatchedWords(Body):
    """Words to watch with one action (a word watched already moves to it). Each 1-100
    characters with a letter or a digit in it."""

    action: ActionName
    words: Annotated[
        list[Annotated[str, line(words.WORD_CHARS, min_length=1)]],
        msgspec.Meta(min_length=1, max_length=words.WORDS_PER_CALL),
    ]


class WatchedCount(Answer):
    count: Annotated[int, msgspec.Meta(description="words added, or moved to this action")]


class WatchedWordItem(Answer):
    id: int
    word: str
    action: ActionName


class WatchedWordList(Answer):
    items: list[WatchedWordItem]


class SentenceToTest(Body):
    text: Annotated[str, text(words.TEST_CHARS)]


class WordMatch(Answer):
    word: str
    action: ActionName
    start: Annotated[int, msgspec.Meta(description="in the text as sent, in characters")]
    end: Annotated[int, msgspec.Meta(description="exclusive")]


class Matches(Answer):
    matches: list[WordMatch]


class Decision(Body):
    """approve: a held thing is shown (a flagged one stays); reject: it is hidden, and `note`
    (required then) is what its author reads."""

    approve: bool
    note: Annotated[str, line(review.NOTE_CHARS)] = ""


class QueueItem(Answer):
    id: int
    kind: str
    object_id: int
    author_id: int
    reason: Literal["held", "flagged", "new_avatar"]
    words: list[str]
    excerpt: str
    status: Literal["waiting", "approved", "rejected"]
    created_at: str
    decided_at: str | None
    note: str
    picture_url: Annotated[
        str | None,
        msgspec.Meta(
            description=(
                "the picture to decide on (a young account's avatar waiting, kind "
                '"avatar"), on this site; null for the rest'
            )
        ),
    ]


class QueueAnswer(Answer):
    items: list[QueueItem]
    waiting: int
    oldest_waiting_seconds: int | None
    median_wait_seconds: Annotated[
        int | None, msgspec.Meta(description="of the last 7 days' decisions")
    ]


def item_json(item: ReviewItem, picture: str | None = None) -> dict[str, object]:
    return {
        "id": item.id,
        "kind": item.kind,
        "object_id": item.object_id,
        "author_id": item.author_id,  # type: ignore[attr-defined]
        "reason": item.reason.value,
        "words": item.words,
        "excerpt": item.excerpt,
        "status": item.status.value,
        "created_at": iso(item.created_at),
        "decided_at": iso(item.decided_at),
        "note": item.note,
        "picture_url": picture,
    }


@operation(
    "Watch words with one action (admins)",
    body=NewWatchedWords,
    answer=WatchedCount,
    status=201,
    auth="admin",
    tag="moderation",
)
@staff_only(Capability.WATCHED_WORDS)
async def add_watched_words(request: Request) -> Response:
    data = await read_json(request, NewWatchedWords)
    count = await words.add_words(
        data.action, data.words, actor=staff_member(request), now=datetime.now(UTC)
    )
    return json_response({"count": count}, 201)


@operation(
    "The watched words (admins), by action then word",
    answer=WatchedWordList,
    auth="admin",
    tag="moderation",
)
@staff_only(Capability.WATCHED_WORDS)
async def list_watched_words(request: Request) -> Response:
    found = await words.words_of(limit=words.WORDS_AT_MOST)
    return json_response(
        {"items": [{"id": w.id, "word": w.word, "action": w.action.value} for w in found]}
    )


@operation(
    "Stop watching a word (admins)",
    status=204,
    auth="admin",
    tag="moderation",
)
@staff_only(Capability.WATCHED_WORDS)
async def remove_watched_word(request: Request) -> Response:
    await words.remove_word(
        request.path_params["id"], actor=staff_member(request), now=datetime.now(UTC)
    )
    return Response(status_code=204)


@operation(
    "Test a sentence against the watched words (admins): every match, where it is",
    body=SentenceToTest,
    answer=Matches,
    auth="admin",
    tag="moderation",
)
@staff_only(Capability.WATCHED_WORDS)
async def test_watched_words(request: Request) -> Response:
    data = await read_json(request, SentenceToTest)
    found = await words.test_sentence(data.text)
    return json_response(
        {
            "matches": [
                {"word": m.word, "action": m.action.value, "start": m.start, "end": m.end}
                for m in found
            ]
        }
    )


@operation(
    "The review queue (moderators): what waits, oldest first, and how long things wait",
    answer=QueueAnswer,
    auth="admin",
    tag="moderation",
)
@staff_only(Capability.MODERATE)
async def review_queue(request: Request) -> Response:
    queue = await review.queue(now=datetime.now(UTC), viewer=staff_member(request))
    pictures = await review.pictures(queue.items)
    return json_response(
        {
            "items": [item_json(item, pictures.get(item.id)) for item in queue.items],
            "waiting": queue.waiting,
            "oldest_waiting_seconds": (
                int(queue.oldest_waiting.total_seconds()) if queue.oldest_waiting else None
            ),
            "median_wait_seconds": (
                int(queue.median_wait.total_seconds()) if queue.median_wait else None
            ),
        }
    )


@operation(
    "Approve or reject an item of the review queue (moderators); its author is told",
    body=Decision,
    answer=QueueItem,
    auth="admin",
    tag="moderation",
    errors={404: "review_item_not_found", 409: "already_decided"},
)
@staff_only(Capability.MODERATE)
async def decide_review(request: Request) -> Response:
    data = await read_json(request, Decision)
    item = await review.decide(
        request.path_params["id"],
        approve=data.approve,
        note=data.note,
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    return json_response(item_json(item))


ObjectType = Literal["post", "reply", "profile", "conversation"]


class ThingReported(Body):
    """Something on the site reported to the moderators, with why. A post, a reply or a
    profile the caller can see, or one of the caller's own conversations with customer
    service. Once per person and thing: reporting it again answers the same report."""

    object_type: ObjectType
    object_id: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
    reason: Annotated[str, line(reports.REASON_CHARS, min_length=1)]


class ReportMade(Answer):
    id: int


class ReportedThing(Answer):
    object_type: ObjectType
    object_id: int
    count: Annotated[int, msgspec.Meta(description="open reports of it")]
    first_reported_at: str
    last_reported_at: str
    reasons: list[str]
    excerpt: Annotated[str | None, msgspec.Meta(description="null: it is gone")]
    link: str | None


class ReportedThings(Answer):
    items: list[ReportedThing]


class ReportDecision(Body):
    """Decide every open report of one thing: take it down (its package hides it: a post or
    reply is hidden, a profile's bio cleared; a conversation is acted on by customer service)
    or dismiss them, with `note` (required then), which the reporters read."""

    object_type: ObjectType
    object_id: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
    action: Literal["take_down", "dismiss"]
    note: Annotated[str, line(reports.NOTE_CHARS)] = ""


class ReportsDecided(Answer):
    closed: Annotated[int, msgspec.Meta(description="reports closed, each reporter told")]


@operation(
    "Report something to the moderators: a post, a reply, a profile or one's conversation",
    body=ThingReported,
    answer=ReportMade,
    status=201,
    tag="moderation",
    errors={
        403: "members_only, banned",
        404: "reported_not_found, post_not_found, conversation_not_found",
        429: "rate_limited",
    },
)
async def make_report(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, ThingReported)
    made = await reports.report(
        data.object_type,
        data.object_id,
        reporter=user,
        reason=data.reason,
        now=datetime.now(UTC),
        counter=request.app.state.counter,
    )
    return json_response({"id": made.id}, 201)


@operation(
    "Reported things (moderators): the most reported first, then the oldest",
    answer=ReportedThings,
    auth="admin",
    tag="moderation",
)
@staff_only(Capability.MODERATE)
async def reported(request: Request) -> Response:
    found = await reports.open_reports()
    return json_response(
        {
            "items": [
                {
                    "object_type": r.object_type,
                    "object_id": r.object_id,
                    "count": r.count,
                    "first_reported_at": iso(r.first_at),
                    "last_reported_at": iso(r.last_at),
                    "reasons": r.reasons,
                    "excerpt": r.shown.excerpt if r.shown else None,
                    "link": r.shown.link if r.shown else None,
                }
                for r in found
            ]
        }
    )


@operation(
    "Decide the open reports of one thing (moderators); every reporter is told",
    body=ReportDecision,
    answer=ReportsDecided,
    auth="admin",
    tag="moderation",
    errors={404: "reported_not_found", 409: "no_open_reports"},
)
@staff_only(Capability.MODERATE)
async def decide_reports(request: Request) -> Response:
    data = await read_json(request, ReportDecision)
    closed = await reports.decide(
        data.object_type,
        data.object_id,
        take_down=data.action == "take_down",
        note=data.note,
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    return json_response({"closed": len(closed)})


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/admin/watched-words",
            add_watched_words,
            methods=["POST"],
            name="moderation.add_watched_words",
        ),
        Route(
            "/admin/watched-words",
            list_watched_words,
            methods=["GET"],
            name="moderation.list_watched_words",
        ),
        Route(
            "/admin/watched-words/test",
            test_watched_words,
            methods=["POST"],
            name="moderation.test_watched_words",
        ),
        Route(
            "/admin/watched-words/{id:id}",
            remove_watched_word,
            methods=["DELETE"],
            name="moderation.remove_watched_word",
        ),
        Route("/reports", make_report, methods=["POST"], name="moderation.report"),
        Route("/admin/reports", reported, methods=["GET"], name="moderation.reported"),
        Route(
            "/admin/reports/decision",
            decide_reports,
            methods=["POST"],
            name="moderation.decide_reports",
        ),
        Route("/admin/review-queue", review_queue, methods=["GET"], name="moderation.queue"),
        Route(
            "/admin/review-queue/{id:id}/decision",
            decide_review,
            methods=["POST"],
            name="moderation.decide",
        ),
    ]
